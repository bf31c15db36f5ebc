"""Fixtures of the gateway adapter tests."""

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from tests.support.signing import GATEWAY_ENV


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """HTTP stubbed under the real SDKs: every request an SDK makes must be one the test expects,
    and each expected one is made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def gateways(monkeypatch: pytest.MonkeyPatch, aws: Any) -> Iterator[responses.RequestsMock]:
    """Razorpay and Stripe configured (test credentials), every HTTP call stubbed or refused, and
    every gateway circuit closed."""
    from payments.store.ops_table import CircuitItem

    for name, value in GATEWAY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_ORDER", "razorpay,stripe,mock")
    monkeypatch.setenv("CIRCUIT_FAILURE_THRESHOLD", "3")
    for gateway in ("razorpay", "stripe", "mock"):
        CircuitItem(f"CIRCUIT#{gateway}").delete()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        yield http
