"""The gateway contract, once for every adapter: Razorpay and Stripe through their real SDKs with
only HTTP stubbed (`responses`), and the Mock gateway against moto.

What every adapter must do the same way, because the flows rely on it:
- a gateway that failed or could not be reached (5xx, an HTML error page from a proxy, a reset
  connection, a timeout) is ``GatewayUnavailable``, after exactly one HTTP call (no SDK retries);
- a gateway that answered no (4xx, an unknown token) is ``GatewayRejected``;
- a webhook whose signature is missing, forged, non-ASCII or over another body is
  ``SignatureInvalid``, and so is every webhook when no secret is configured; header names are
  case-insensitive;
- every write carries a key derived from our reference, the same on every retry.

Gateway-specific behaviour (payload shapes, status mapping) is in test_gateway_<name>.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import responses

from payments.gateways.base import MethodType, OrderRequest, PaymentGateway, PayoutRequest
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, SignatureInvalid
from payments.gateways.mock_gateway import MockGateway
from payments.gateways.razorpay_gateway import RazorpayGateway
from payments.gateways.stripe_gateway import StripeGateway

RAZORPAY_API = "https://api.razorpay.com/v1"
STRIPE_API = "https://api.stripe.com/v1"
WEBHOOK_SECRET = "contract_webhook_secret"

#: The faults every HTTP adapter must report as unavailable: no answer, or an answer that does not
#: say whether the request was acted on (a 5xx, or a 429, whatever error code its body carries),
#: or our own credentials refused (401/403): the fault is the deployment's, not a "no" to the
#: client's request, so it must not become a stored 4xx refusal; it waits in flight for the fix.
_AUTH_FAILED = {
    "code": "BAD_REQUEST_ERROR",
    "description": "Authentication failed",
    "message": "Invalid API Key provided",
}
UNAVAILABLE = {
    "401-credentials": {"status": 401, "json": {"error": {**_AUTH_FAILED, "type": "invalid_request_error"}}},
    "403-permission": {"status": 403, "json": {"error": {**_AUTH_FAILED, "type": "invalid_request_error"}}},
    "5xx": {"status": 500, "json": {"error": {"code": "SERVER_ERROR", "description": "internal error"}}},
    "503": {"status": 503, "json": {"error": {"code": "SERVICE_UNAVAILABLE", "description": "try later"}}},
    "502-gateway-error": {"status": 502, "json": {"error": {"code": "GATEWAY_ERROR", "description": "bank down"}}},
    "500-bad-request-code": {"status": 500, "json": {"error": {"code": "BAD_REQUEST_ERROR", "description": "oops"}}},
    "429": {"status": 429, "json": {"error": {"code": "BAD_REQUEST_ERROR", "description": "Too many requests"}}},
    "html-502": {"status": 502, "body": "<html>Bad Gateway</html>", "content_type": "text/html"},
    "reset": {"body": requests.exceptions.ConnectionError("connection reset by peer")},
    "timeout": {"body": requests.exceptions.ReadTimeout("read timed out")},
}


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _order_request(reference: str = "txn-contract-1", token: str | None = None) -> OrderRequest:
    return OrderRequest(reference, 50_000, "INR", MethodType.CARD, "user-42", method_token=token)


def _payout_request(reference: str = "wd-contract-1", token: str = "tok_mock_success") -> PayoutRequest:
    return PayoutRequest(reference, 10_000, "INR", MethodType.BANK_TRANSFER, token)


@dataclass
class Adapter:
    """How to drive one adapter through the contract."""

    name: str
    build: Callable[[str], PaymentGateway]  # webhook secret -> gateway
    sign: Callable[[str, str], dict[str, str]]  # (raw body, secret) -> the signature headers
    signature_header: str
    #: operation -> (HTTP method, URL) it calls; empty for the Mock, which has no HTTP.
    endpoints: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: 4xx answers that mean "no" (status, body).
    rejections: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: operation -> where our reference travels: ("header", name) or ("json", field)
    carries_reference: dict[str, tuple[str, str]] = field(default_factory=dict)


def _razorpay_sign(body: str, secret: str) -> dict[str, str]:
    return {"X-Razorpay-Signature": _hmac(secret, body), "X-Razorpay-Event-Id": "evt_contract"}


def _stripe_sign(body: str, secret: str) -> dict[str, str]:
    stamp = int(time.time())
    return {"Stripe-Signature": f"t={stamp},v1={_hmac(secret, f'{stamp}.{body}')}"}


def _mock_sign(body: str, secret: str) -> dict[str, str]:
    return {"X-Mock-Signature": _hmac(secret, body), "X-Mock-Event-Id": "evt_contract"}


def _stripe_error(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "code": code}}


def _razorpay_error(code: str, description: str) -> dict[str, Any]:
    return {"error": {"code": code, "description": description}}


ADAPTERS = {
    "razorpay": Adapter(
        "razorpay",
        lambda secret: RazorpayGateway("rzp_key", "rzp_secret", secret, payout_account_number="2323", timeout_s=3.5),
        _razorpay_sign,
        "X-Razorpay-Signature",
        endpoints={
            "create_order": ("POST", f"{RAZORPAY_API}/orders"),
            "fetch_payment": ("GET", f"{RAZORPAY_API}/orders/order_A/payments"),
            "refund": ("POST", f"{RAZORPAY_API}/payments/pay_1/refund"),
            "payout": ("POST", f"{RAZORPAY_API}/payouts"),
        },
        rejections=[
            (400, _razorpay_error("BAD_REQUEST_ERROR", "amount must be at least INR 1.00")),
        ],
        carries_reference={
            "create_order": ("json", "receipt"),
            "refund": ("json", "receipt"),
            "payout": ("header", "X-Payout-Idempotency"),
        },
    ),
    "stripe": Adapter(
        "stripe",
        lambda secret: StripeGateway("sk_test_contract", "pk_test_contract", secret, timeout_s=3.5),
        _stripe_sign,
        "Stripe-Signature",
        endpoints={
            "create_order": ("POST", f"{STRIPE_API}/payment_intents"),
            "fetch_payment": ("GET", f"{STRIPE_API}/payment_intents/order_A"),
            "refund": ("POST", f"{STRIPE_API}/refunds"),
            "payout": ("POST", f"{STRIPE_API}/payouts"),
        },
        rejections=[
            (400, _stripe_error("invalid_request_error", "Amount must be at least $0.50 usd", "amount_too_small")),
            (402, _stripe_error("card_error", "Your card was declined.", "card_declined")),
        ],
        carries_reference={
            "create_order": ("header", "Idempotency-Key"),
            "refund": ("header", "Idempotency-Key"),
            "payout": ("header", "Idempotency-Key"),
        },
    ),
    "mock": Adapter(
        "mock",
        lambda secret: MockGateway("mock_key", "mock_key_secret", secret, "http://127.0.0.1:3000"),
        _mock_sign,
        "X-Mock-Signature",
    ),
}
HTTP_ADAPTERS = [name for name, adapter in ADAPTERS.items() if adapter.endpoints]


def _operation(name: str) -> Callable[[PaymentGateway], Any]:
    return {
        "create_order": lambda gateway: gateway.create_order(_order_request()),
        "fetch_payment": lambda gateway: gateway.fetch_payment("order_A"),
        "refund": lambda gateway: gateway.refund("pay_1", 20_000, "INR", "rf-contract-1"),
        "payout": lambda gateway: gateway.payout(_payout_request("wd-contract-1", "fa_123")),
    }[name]


# --- unavailable vs rejected -------------------------------------------------------------------


@pytest.mark.parametrize("fault", sorted(UNAVAILABLE))
@pytest.mark.parametrize("operation", ["create_order", "fetch_payment", "refund", "payout"])
@pytest.mark.parametrize("name", HTTP_ADAPTERS)
def test_a_failed_or_unreachable_gateway_is_unavailable_after_one_call(
    http: responses.RequestsMock, name: str, operation: str, fault: str
) -> None:
    adapter = ADAPTERS[name]
    method, url = adapter.endpoints[operation]
    http.add(method, url, **UNAVAILABLE[fault])

    with pytest.raises(GatewayUnavailable):
        _operation(operation)(adapter.build(WEBHOOK_SECRET))

    assert len(http.calls) == 1  # the SDK's own retries stay off: our caller decides what to retry


@pytest.mark.parametrize("operation", ["create_order", "refund", "payout"])
@pytest.mark.parametrize(
    ("name", "rejection"),
    [(name, index) for name in HTTP_ADAPTERS for index in range(len(ADAPTERS[name].rejections))],
)
def test_a_gateway_that_answers_no_is_rejected(
    http: responses.RequestsMock, name: str, rejection: int, operation: str
) -> None:
    adapter = ADAPTERS[name]
    status, body = adapter.rejections[rejection]
    method, url = adapter.endpoints[operation]
    http.add(method, url, status=status, json=body)
    message = body["error"].get("description") or body["error"]["message"]

    with pytest.raises(GatewayRejected, match=message[:12]):
        _operation(operation)(adapter.build(WEBHOOK_SECRET))


IDEMPOTENCY_CONFLICTS = {
    "razorpay": (
        409,
        _razorpay_error("BAD_REQUEST_ERROR", "Another request with the same idempotency key is still in progress"),
    ),
    "stripe": (400, _stripe_error("idempotency_error", "Keys for idempotent requests can only be used once")),
}


@pytest.mark.parametrize("operation", ["refund", "payout"])
@pytest.mark.parametrize("name", HTTP_ADAPTERS)
def test_an_idempotency_conflict_is_unknown_not_a_no(http: responses.RequestsMock, name: str, operation: str) -> None:
    """A conflict on our key means a request under it exists: its outcome is not this answer."""
    adapter = ADAPTERS[name]
    status, body = IDEMPOTENCY_CONFLICTS[name]
    method, url = adapter.endpoints[operation]
    http.add(method, url, status=status, json=body)

    with pytest.raises(GatewayUnavailable):
        _operation(operation)(adapter.build(WEBHOOK_SECRET))


def test_the_mock_is_unavailable_or_rejects_by_token(aws: Any) -> None:
    gateway = ADAPTERS["mock"].build(WEBHOOK_SECRET)
    with pytest.raises(GatewayUnavailable):
        gateway.create_order(_order_request("txn-mock-timeout", token="tok_mock_timeout"))
    with pytest.raises(GatewayRejected, match="unknown mock token"):
        gateway.create_order(_order_request("txn-mock-unknown", token="tok_nobody_knows"))
    with pytest.raises(GatewayRejected):
        gateway.fetch_payment("order_mock_that_does_not_exist")
    with pytest.raises(GatewayRejected):
        gateway.refund("pay_mock_that_does_not_exist", 100, "INR", "rf-mock-unknown")


# --- webhook signatures ------------------------------------------------------------------------


def _body() -> str:
    """A verified event none of the adapters acts on, in a shape each of them can read."""
    return json.dumps(
        {
            "id": "evt_contract",
            "object": "event",
            "type": "customer.created",
            "data": {"object": {"id": "cus_1", "object": "customer"}},
            "event": "order.paid",
            "payload": {},
        }
    )


FORGERIES: dict[str, Callable[[Adapter, str], dict[str, str]]] = {
    "wrong-secret": lambda adapter, body: adapter.sign(body, "not-our-secret"),
    "other-body": lambda adapter, body: adapter.sign(body + " ", WEBHOOK_SECRET),
    "garbage": lambda adapter, body: {adapter.signature_header: "0" * 64},
    "non-ascii": lambda adapter, body: {adapter.signature_header: "é" * 64},
    "empty": lambda adapter, body: {adapter.signature_header: ""},
    "missing": lambda adapter, body: {},
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_forged_or_missing_webhook_signature_is_invalid(name: str, forgery: str) -> None:
    adapter = ADAPTERS[name]
    body = _body()

    with pytest.raises(SignatureInvalid):
        adapter.build(WEBHOOK_SECRET).parse_webhook(body, FORGERIES[forgery](adapter, body))


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_no_webhook_verifies_without_a_configured_secret(name: str) -> None:
    """HMAC with an empty key is computable by anyone, so an unset secret must verify nothing."""
    adapter = ADAPTERS[name]
    body = _body()

    with pytest.raises(SignatureInvalid):
        adapter.build("").parse_webhook(body, adapter.sign(body, ""))


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_a_tampered_webhook_body_is_invalid(name: str) -> None:
    adapter = ADAPTERS[name]
    body = _body()

    with pytest.raises(SignatureInvalid):
        adapter.build(WEBHOOK_SECRET).parse_webhook(
            body.replace("evt_contract", "evt_other"), adapter.sign(body, WEBHOOK_SECRET)
        )


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_webhook_header_names_are_case_insensitive(name: str) -> None:
    adapter = ADAPTERS[name]
    body = _body()
    headers = {key.lower(): value for key, value in adapter.sign(body, WEBHOOK_SECRET).items()}

    event = adapter.build(WEBHOOK_SECRET).parse_webhook(body, headers)

    assert event.gateway.value == name


# --- idempotency keys --------------------------------------------------------------------------

_OK = {
    "create_order": {"id": "order_A", "amount": 50_000, "currency": "INR", "status": "created", "client_secret": "cs"},
    "refund": {"id": "rfnd_1", "entity": "refund", "amount": 20_000, "status": "processed"},
    "payout": {"id": "pout_1", "entity": "payout", "status": "processing"},
}


def _sent_reference(request: Any, where: tuple[str, str]) -> str:
    kind, key = where
    if kind == "header":
        return str(request.headers[key])
    return str(json.loads(request.body)[key])


@pytest.mark.parametrize("operation", ["create_order", "refund", "payout"])
@pytest.mark.parametrize("name", HTTP_ADAPTERS)
def test_every_write_carries_our_reference_and_a_retry_carries_the_same(
    http: responses.RequestsMock, name: str, operation: str
) -> None:
    adapter = ADAPTERS[name]
    method, url = adapter.endpoints[operation]
    http.add(method, url, json=_OK[operation])
    http.add(method, url, json=_OK[operation])
    gateway = adapter.build(WEBHOOK_SECRET)

    _operation(operation)(gateway)
    _operation(operation)(gateway)

    first, second = (_sent_reference(call.request, adapter.carries_reference[operation]) for call in http.calls)
    assert first == second
    assert "contract-1" in first


def test_the_mock_turns_a_retried_write_into_the_same_object(aws: Any) -> None:
    gateway = ADAPTERS["mock"].build(WEBHOOK_SECRET)
    first = gateway.create_order(_order_request("txn-mock-retry"))
    again = gateway.create_order(_order_request("txn-mock-retry"))
    assert first.order_id == again.order_id
    assert (
        gateway.payout(_payout_request("wd-mock-retry")).payout_id
        == gateway.payout(_payout_request("wd-mock-retry")).payout_id
    )
