"""Fixtures of the gateway adapter tests."""

from collections.abc import Iterator

import pytest
import responses


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """HTTP stubbed under the real SDKs: every request an SDK makes must be one the test expects,
    and each expected one is made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
