"""The Python client (clients/python) over stubbed HTTP: retries that reuse one Idempotency-Key,
Retry-After, one exception per error code, Decimal amounts; and its models and error classes
against docs/openapi.json, so the client cannot drift from the contract."""

import dataclasses
import json
import typing
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from payments_client import PaymentClient, errors, models

BASE = "https://api.example.test/dev"
INITIATE = f"{BASE}/api/v1/payments/deposits/initiate"
STARTED = {
    "success": True,
    "transaction_id": "txn_1",
    "order_id": "order_1",
    "amount": "1000.50",
    "currency": "INR",
    "checkout_url": "https://checkout",
    "key": "rzp_test",
    "gateway": "RAZORPAY",
}


@pytest.fixture
def http() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def client(slept: list[float]) -> PaymentClient:
    return PaymentClient(BASE, "jwt", sleep=slept.append, backoff_s=0.25)


def _error(code: str, message: str = "no", **details: Any) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": details}}


def test_a_post_retried_after_a_lost_answer_and_a_5xx_sends_one_key(
    http: Any, client: PaymentClient, slept: list[float]
) -> None:
    http.add(responses.POST, INITIATE, body=requests.ConnectionError("reset"))
    http.add(responses.POST, INITIATE, status=502, json=_error("PAY_004"))
    http.add(responses.POST, INITIATE, json=STARTED, headers={"Idempotent-Replayed": "true"})
    started = client.initiate_deposit(Decimal("1000.50"), "pm_1")
    keys = {call.request.headers["Idempotency-Key"] for call in http.calls}
    assert len(http.calls) == 3
    assert len(keys) == 1
    assert [json.loads(call.request.body)["amount"] for call in http.calls] == ["1000.50"] * 3
    assert (started.amount, started.transaction_id) == (Decimal("1000.50"), "txn_1")
    assert slept == [0.25, 0.5]


def test_the_callers_key_is_the_one_sent(http: Any, client: PaymentClient) -> None:
    http.add(responses.POST, INITIATE, json=STARTED)
    client.initiate_deposit("10", "pm_1", idempotency_key="order-42")
    assert http.calls[0].request.headers["Idempotency-Key"] == "order-42"


def test_429_waits_as_long_as_retry_after_says(http: Any, client: PaymentClient, slept: list[float]) -> None:
    balance = f"{BASE}/api/v1/payments/wallet/balance"
    http.add(responses.GET, balance, status=429, json=_error("RATE_LIMITED"), headers={"Retry-After": "7"})
    http.add(responses.GET, balance, status=429, json=_error("RATE_LIMITED"), headers={"Retry-After": "7"})
    http.add(responses.GET, balance, status=429, json=_error("RATE_LIMITED"), headers={"Retry-After": "7"})
    http.add(responses.GET, balance, status=429, json=_error("RATE_LIMITED"), headers={"Retry-After": "9"})
    with pytest.raises(errors.RateLimited) as limited:
        client.get_wallet_balance()
    assert slept == [7.0, 7.0, 7.0]
    assert (limited.value.retry_after, limited.value.status) == (9.0, 429)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (402, "PAY_002", errors.InsufficientBalance),
        (400, "GATEWAY_NOT_CONFIGURED", errors.GatewayNotConfigured),
        (422, "GATEWAY_REFUSED", errors.GatewayRefused),
        (403, "PAY_005", errors.LimitExceeded),
        (409, "IDEMPOTENCY_CONFLICT", errors.IdempotencyConflict),
    ],
)
def test_a_4xx_raises_its_class_at_once(
    http: Any, client: PaymentClient, status: int, code: str, cls: type[errors.ApiError]
) -> None:
    headers = {"x-amzn-RequestId": "req-1"}
    http.add(responses.POST, INITIATE, status=status, json=_error(code, "why", limit="daily"), headers=headers)
    with pytest.raises(cls) as raised:
        client.initiate_deposit(Decimal("5.00"), "pm_1")
    error = raised.value
    assert (error.code, error.message, error.details, error.status) == (code, "why", {"limit": "daily"}, status)
    assert error.request_id == "req-1"
    assert len(http.calls) == 1


def test_no_answer_at_all_is_a_network_error_after_the_retries(http: Any, client: PaymentClient) -> None:
    for _ in range(4):
        http.add(responses.POST, INITIATE, body=requests.Timeout("slow"))
    with pytest.raises(errors.NetworkError, match="4 attempts"):
        client.initiate_deposit(Decimal("5.00"), "pm_1")


@pytest.mark.parametrize("amount", [10.5, float("nan"), True])
def test_a_float_amount_is_refused_before_sending(client: PaymentClient, amount: Any) -> None:
    with pytest.raises(TypeError):
        client.initiate_deposit(amount, "pm_1")


# ---------------------------------------------------------------- against docs/openapi.json
def _document() -> dict[str, Any]:
    from local import openapi

    return json.loads(openapi.DOCUMENT.read_text())


MODELS = {
    "Balance": models.Balance,
    "Transaction": models.Transaction,
    "TransactionPage": models.TransactionPage,
    "Method": models.Method,
    "DepositInitiated": models.DepositInitiated,
    "DepositConfirmed": models.DepositConfirmed,
    "WithdrawalStarted": models.WithdrawalStarted,
    "WithdrawalStatus": models.WithdrawalStatus,
    "Refund": models.Refund,
    "KycSet": models.KycSet,
    "Decision": models.Decision,
    "Health": models.Health,
}


@pytest.mark.parametrize("schema_name", sorted(MODELS))
def test_each_model_has_exactly_the_documented_properties_with_amounts_as_decimal(schema_name: str) -> None:
    schema = _document()["components"]["schemas"][schema_name]
    model = MODELS[schema_name]
    fields = {field.name for field in dataclasses.fields(model)}
    assert fields == set(schema["properties"])
    hints = typing.get_type_hints(model)
    amounts = {name for name in fields if hints[name] is Decimal}
    money_words = ("amount", "balance", "limit", "used", "remaining", "fee")
    documented_amounts = {
        name
        for name, prop in schema["properties"].items()
        if prop.get("type") == "string" and name.endswith(money_words)
    }
    assert amounts == documented_amounts
    required = set(schema.get("required", ()))
    optional = {field.name for field in dataclasses.fields(model) if field.default is not dataclasses.MISSING}
    assert optional == fields - required


def test_every_documented_response_schema_has_a_model() -> None:
    document = _document()
    answered = {
        media["schema"]["$ref"].rsplit("/", 1)[1]
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for media in response.get("content", {}).values()
        if "$ref" in media.get("schema", {})
    }
    # The methods endpoints' wrappers are unwrapped to Method; webhooks and the Mock page are not the client's.
    unwrapped = {"MethodCreated", "MethodList", "MethodDeleted", "WebhookReceived", "MockPayment"}
    assert answered - unwrapped <= set(MODELS)
    assert set(MODELS) <= set(document["components"]["schemas"])


def test_every_documented_error_code_has_its_class() -> None:
    document = _document()
    codes = {
        example["value"]["error"]["code"]
        for operations in document["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
        for media in response.get("content", {}).values()
        for example in media.get("examples", {}).values()
    }
    gateway_codes = {"INTERNAL_ERROR", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST"}
    client_side = {"WEBHOOK_REFUSED", "WEBHOOK_SOURCE_NOT_ALLOWED", "WEBHOOK_RETRY_LATER"}  # gateways' concern
    assert codes - client_side <= set(errors.ERRORS_BY_CODE)
    assert gateway_codes <= set(errors.ERRORS_BY_CODE)
