"""Fixtures of the gateway adapter tests."""

import json
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
    """Razorpay and Stripe configured (test credentials), the Mock off, every HTTP call stubbed or refused, and
    every gateway circuit closed. The credentials go where a deployment keeps them, in the stack's
    gateway secret: a function without access to it (no GATEWAY_SECRETS_ARN, no IAM grant) then
    fails here as it would in AWS."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from payments.store.ops_table import CircuitItem

    secret_arn = aws.stack.physical["GatewaySecret"]
    secrets = boto3.client("secretsmanager")
    empty = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(GATEWAY_ENV))
    parameters.clear_caches()
    monkeypatch.setenv("GATEWAY_ORDER", "razorpay,stripe")
    # A stack with real gateways has no Mock (a Mock stack's real gateways are off).
    monkeypatch.setenv("MOCK_GATEWAY_ENABLED", "false")
    monkeypatch.setenv("CIRCUIT_FAILURE_THRESHOLD", "3")
    for gateway in ("razorpay", "stripe", "mock"):
        CircuitItem(f"CIRCUIT#{gateway}").delete()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
            yield http
    finally:
        secrets.put_secret_value(SecretId=secret_arn, SecretString=empty)
        parameters.clear_caches()
