"""RazorpayGateway driven through the real razorpay SDK, with only its HTTP stubbed by `responses`."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
import responses

from payments.gateways.base import (
    Confirmation,
    EventKind,
    GatewayName,
    MethodType,
    OrderRequest,
    PaymentStatus,
    PayoutRequest,
)
from payments.gateways.errors import GatewayRejected, SignatureInvalid
from payments.gateways.razorpay_gateway import CHECKOUT_URL, RazorpayGateway

KEY_ID = "rzp_test_key"
KEY_SECRET = "rzp_test_secret"
WEBHOOK_SECRET = "rzp_webhook_secret"
ACCOUNT_NUMBER = "2323230000000000"
API = "https://api.razorpay.com/v1"


@pytest.fixture
def gateway() -> RazorpayGateway:
    return RazorpayGateway(KEY_ID, KEY_SECRET, WEBHOOK_SECRET, payout_account_number=ACCOUNT_NUMBER, timeout_s=3.5)


def _order_request(**overrides: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "reference": "txn-001",
        "amount_minor": 50_000,
        "currency": "INR",
        "method_type": MethodType.UPI,
        "customer_id": "user-42",
    }
    return OrderRequest(**{**values, **overrides})


def _payment_signature(order_id: str, payment_id: str, secret: str = KEY_SECRET) -> str:
    """What Razorpay Checkout returns: HMAC-SHA256(key_secret, "order_id|payment_id") in hex."""
    return hmac.new(secret.encode(), f"{order_id}|{payment_id}".encode(), hashlib.sha256).hexdigest()


def _webhook_signature(body: str, secret: str = WEBHOOK_SECRET) -> str:
    """What Razorpay sends in X-Razorpay-Signature: HMAC-SHA256(webhook_secret, raw body) in hex."""
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": {"code": code, "description": description}}


def _payment(payment_id: str, status: str, created_at: int = 1_700_000_000, **extra: Any) -> dict[str, Any]:
    return {
        "id": payment_id,
        "entity": "payment",
        "order_id": "order_A",
        "amount": 50_000,
        "currency": "INR",
        "status": status,
        "created_at": created_at,
        **extra,
    }


# --- create_order ---------------------------------------------------------------------------------


def test_create_order_sends_amount_currency_and_the_reference_as_receipt(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    http.post(f"{API}/orders", json={"id": "order_A", "amount": 50_000, "currency": "INR", "status": "created"})

    order = gateway.create_order(_order_request())

    sent = http.calls[0].request
    assert json.loads(sent.body) == {
        "amount": 50_000,
        "currency": "INR",
        "receipt": "txn-001",
        "notes": {"reference": "txn-001", "customer_id": "user-42"},
    }
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.req_kwargs["timeout"] == 3.5
    assert order.gateway is GatewayName.RAZORPAY
    assert order.order_id == "order_A"
    assert (order.amount_minor, order.currency) == (50_000, "INR")
    assert order.checkout_url == CHECKOUT_URL == "https://checkout.razorpay.com/v1/checkout.js"
    assert order.key == KEY_ID
    assert order.client_secret is None


# --- verify_confirmation --------------------------------------------------------------------------


def test_a_valid_checkout_signature_is_confirmed_by_the_payment_itself(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    """The signature proves the payment belongs to the order, not that it was captured."""
    http.get(f"{API}/payments/pay_1", json=_payment("pay_1", "captured"))
    confirmation = Confirmation(
        payment_id="pay_1",
        data={"razorpay_order_id": "order_A", "razorpay_signature": _payment_signature("order_A", "pay_1")},
    )

    info = gateway.verify_confirmation("order_A", 50_000, "INR", confirmation)

    assert info.status is PaymentStatus.CAPTURED
    assert (info.payment_id, info.order_id) == ("pay_1", "order_A")
    assert (info.amount_minor, info.currency) == (50_000, "INR")
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    ("status", "expected"), [("created", PaymentStatus.PENDING), ("failed", PaymentStatus.PENDING)]
)
def test_a_signed_payment_that_is_not_captured_is_not_captured(
    http: responses.RequestsMock, gateway: RazorpayGateway, status: str, expected: PaymentStatus
) -> None:
    http.get(f"{API}/payments/pay_1", json=_payment("pay_1", status))
    data = {"razorpay_order_id": "order_A", "razorpay_signature": _payment_signature("order_A", "pay_1")}

    assert gateway.verify_confirmation("order_A", 50_000, "INR", Confirmation("pay_1", data)).status is expected


def test_a_signed_payment_of_another_order_is_invalid(http: responses.RequestsMock, gateway: RazorpayGateway) -> None:
    http.get(f"{API}/payments/pay_1", json={**_payment("pay_1", "captured"), "order_id": "order_OTHER"})
    data = {"razorpay_order_id": "order_A", "razorpay_signature": _payment_signature("order_A", "pay_1")}

    with pytest.raises(SignatureInvalid):
        gateway.verify_confirmation("order_A", 50_000, "INR", Confirmation("pay_1", data))


@pytest.mark.parametrize(
    "signature",
    [
        _payment_signature("order_A", "pay_1", secret="someone-elses-secret"),
        _payment_signature("order_A", "pay_2"),
        "",
        None,
        "é" * 64,
    ],
    ids=["wrong-secret", "other-payment", "empty", "missing", "non-ascii"],
)
def test_forged_or_missing_checkout_signature_is_invalid(gateway: RazorpayGateway, signature: str | None) -> None:
    data = {"razorpay_order_id": "order_A", "razorpay_signature": signature}

    with pytest.raises(SignatureInvalid):
        gateway.verify_confirmation("order_A", 50_000, "INR", Confirmation(payment_id="pay_1", data=data))


def test_confirmation_for_another_order_is_invalid_even_with_its_own_valid_signature(
    gateway: RazorpayGateway,
) -> None:
    """A genuine signature for a cheap order must not confirm our expensive one."""
    data = {
        "razorpay_order_id": "order_CHEAP",
        "razorpay_signature": _payment_signature("order_CHEAP", "pay_1"),
    }

    with pytest.raises(SignatureInvalid):
        gateway.verify_confirmation("order_A", 50_000, "INR", Confirmation(payment_id="pay_1", data=data))


def test_signature_is_checked_against_our_order_id_when_the_client_omits_its_own(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    http.get(f"{API}/payments/pay_1", json=_payment("pay_1", "captured"))
    data = {"razorpay_signature": _payment_signature("order_A", "pay_1")}

    info = gateway.verify_confirmation("order_A", 50_000, "INR", Confirmation(payment_id="pay_1", data=data))

    assert info.status is PaymentStatus.CAPTURED


# --- fetch_payment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "payment_id", "status"),
    [
        ([_payment("pay_1", "failed"), _payment("pay_2", "captured")], "pay_2", PaymentStatus.CAPTURED),
        ([_payment("pay_1", "failed"), _payment("pay_2", "authorized")], "pay_2", PaymentStatus.AUTHORIZED),
        ([_payment("pay_1", "created")], "pay_1", PaymentStatus.PENDING),
    ],
    ids=["captured-wins", "authorized", "in-flight"],
)
def test_fetch_payment_reports_the_orders_best_attempt(
    http: responses.RequestsMock,
    gateway: RazorpayGateway,
    items: list[dict[str, Any]],
    payment_id: str,
    status: PaymentStatus,
) -> None:
    http.get(f"{API}/orders/order_A/payments", json={"entity": "collection", "count": len(items), "items": items})

    info = gateway.fetch_payment("order_A")

    assert info is not None
    assert (info.payment_id, info.order_id, info.status) == (payment_id, "order_A", status)
    assert (info.amount_minor, info.currency, info.failure_reason) == (50_000, "INR", None)
    assert http.calls[0].request.req_kwargs["timeout"] == 3.5


def test_an_order_whose_attempts_all_failed_is_still_payable_with_the_latest_reason(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    """A Razorpay order takes further attempts: failed attempts are not a failed order."""
    items = [
        _payment("pay_1", "failed", created_at=1, error_description="Insufficient balance"),
        _payment("pay_2", "failed", created_at=2, error_description="Payment declined by bank"),
    ]
    http.get(f"{API}/orders/order_A/payments", json={"entity": "collection", "count": 2, "items": items})

    info = gateway.fetch_payment("order_A")

    assert info is not None
    assert info.status is PaymentStatus.PENDING
    assert (info.payment_id, info.failure_reason) == ("pay_2", "Payment declined by bank")


def test_fetch_payment_is_none_while_nothing_was_attempted(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    http.get(f"{API}/orders/order_A/payments", json={"entity": "collection", "count": 0, "items": []})

    assert gateway.fetch_payment("order_A") is None


# --- refund ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("razorpay_status", "status"), [("processed", "PROCESSED"), ("pending", "PENDING"), ("failed", "FAILED")]
)
def test_refund_sends_amount_and_our_reference_as_receipt(
    http: responses.RequestsMock, gateway: RazorpayGateway, razorpay_status: str, status: str
) -> None:
    http.post(
        f"{API}/payments/pay_1/refund",
        json={"id": "rfnd_1", "entity": "refund", "amount": 20_000, "status": razorpay_status},
    )

    result = gateway.refund("pay_1", 20_000, "INR", "refund-007")

    assert json.loads(http.calls[0].request.body) == {
        "amount": 20_000,
        "receipt": "refund-007",
        "notes": {"reference": "refund-007"},
    }
    assert (result.refund_id, result.status, result.amount_minor) == ("rfnd_1", status, 20_000)


# --- payout ---------------------------------------------------------------------------------------


def _payout_request(method_type: MethodType = MethodType.BANK_TRANSFER, **overrides: Any) -> PayoutRequest:
    values: dict[str, Any] = {
        "reference": "wd-001",
        "amount_minor": 100_000,
        "currency": "INR",
        "method_type": method_type,
        "destination_token": "fa_123",
        "description": "Wallet withdrawal #1!",
    }
    return PayoutRequest(**{**values, **overrides})


def test_payout_goes_to_razorpayx_with_our_reference_as_idempotency_key(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    http.post(f"{API}/payouts", json={"id": "pout_1", "entity": "payout", "status": "processing"})

    result = gateway.payout(_payout_request())

    sent = http.calls[0].request
    assert sent.headers["X-Payout-Idempotency"] == "wd-001"
    assert sent.headers["Authorization"].startswith("Basic ")
    assert sent.req_kwargs["timeout"] == 3.5
    assert json.loads(sent.body) == {
        "account_number": ACCOUNT_NUMBER,
        "fund_account_id": "fa_123",
        "amount": 100_000,
        "currency": "INR",
        "mode": "IMPS",
        "purpose": "payout",
        "queue_if_low_balance": True,
        "reference_id": "wd-001",
        "narration": "Wallet withdrawal 1",
    }
    assert (result.payout_id, result.status) == ("pout_1", "PROCESSING")


@pytest.mark.parametrize(
    ("method_type", "mode"),
    [(MethodType.BANK_TRANSFER, "IMPS"), (MethodType.UPI, "UPI"), (MethodType.CARD, "card")],
)
def test_payout_mode_follows_the_method_type(
    http: responses.RequestsMock, gateway: RazorpayGateway, method_type: MethodType, mode: str
) -> None:
    http.post(f"{API}/payouts", json={"id": "pout_1", "entity": "payout", "status": "queued"})

    result = gateway.payout(_payout_request(method_type, description=None))

    body = json.loads(http.calls[0].request.body)
    assert body["mode"] == mode
    assert "narration" not in body
    assert result.status == "PENDING"


@pytest.mark.parametrize(
    ("razorpay_status", "status"),
    [("processed", "PROCESSED"), ("pending", "PENDING"), ("rejected", "FAILED"), ("reversed", "FAILED")],
)
def test_payout_status_is_normalised(
    http: responses.RequestsMock, gateway: RazorpayGateway, razorpay_status: str, status: str
) -> None:
    http.post(f"{API}/payouts", json={"id": "pout_1", "entity": "payout", "status": razorpay_status})

    assert gateway.payout(_payout_request()).status == status


def test_payout_without_a_razorpayx_account_is_rejected_before_any_http(http: responses.RequestsMock) -> None:
    gateway = RazorpayGateway(KEY_ID, KEY_SECRET, WEBHOOK_SECRET)

    with pytest.raises(GatewayRejected, match="account number"):
        gateway.payout(_payout_request())

    assert len(http.calls) == 0


def test_payout_to_netbanking_is_rejected_before_any_http(
    http: responses.RequestsMock, gateway: RazorpayGateway
) -> None:
    with pytest.raises(GatewayRejected, match="payout mode"):
        gateway.payout(_payout_request(MethodType.NETBANKING))

    assert len(http.calls) == 0


# --- parse_webhook --------------------------------------------------------------------------------


def _event(event: str, **entities: dict[str, Any]) -> str:
    payload = {name: {"entity": entity} for name, entity in entities.items()}
    return json.dumps({"entity": "event", "event": event, "payload": payload, "created_at": 1_700_000_000})


def _signed(body: str, event_id: str = "evt_1") -> dict[str, str]:
    return {"X-Razorpay-Signature": _webhook_signature(body), "X-Razorpay-Event-Id": event_id}


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("payment.captured", EventKind.PAYMENT_CAPTURED),
        ("payment.authorized", EventKind.PAYMENT_AUTHORIZED),
    ],
)
def test_payment_webhook_is_normalised(gateway: RazorpayGateway, event: str, kind: EventKind) -> None:
    body = _event(event, payment=_payment("pay_1", "captured", currency="inr"))

    parsed = gateway.parse_webhook(body, _signed(body))

    assert (parsed.gateway, parsed.event_id, parsed.kind, parsed.raw_type) == (
        GatewayName.RAZORPAY,
        "evt_1",
        kind,
        event,
    )
    assert (parsed.order_id, parsed.payment_id) == ("order_A", "pay_1")
    assert (parsed.amount_minor, parsed.currency, parsed.failure_reason) == (50_000, "INR", None)
    assert parsed.payload["event"] == event


def test_payment_failed_webhook_carries_the_reason(gateway: RazorpayGateway) -> None:
    body = _event("payment.failed", payment=_payment("pay_1", "failed", error_description="Card declined"))

    parsed = gateway.parse_webhook(body, _signed(body))

    assert parsed.kind is EventKind.PAYMENT_ATTEMPT_FAILED  # the order stays payable
    assert (parsed.order_id, parsed.payment_id, parsed.failure_reason) == (
        "order_A",
        "pay_1",
        "Card declined",
    )


@pytest.mark.parametrize(
    ("event", "kind"),
    [("refund.processed", EventKind.REFUND_PROCESSED), ("refund.failed", EventKind.REFUND_FAILED)],
)
def test_refund_webhook_is_normalised(gateway: RazorpayGateway, event: str, kind: EventKind) -> None:
    refund = {"id": "rfnd_1", "entity": "refund", "payment_id": "pay_1", "amount": 20_000, "currency": "INR"}
    body = _event(event, refund=refund, payment=_payment("pay_1", "captured"))

    parsed = gateway.parse_webhook(body, _signed(body))

    assert parsed.kind is kind
    assert (parsed.refund_id, parsed.payment_id, parsed.order_id) == ("rfnd_1", "pay_1", None)
    assert (parsed.amount_minor, parsed.currency) == (20_000, "INR")


@pytest.mark.parametrize(
    ("event", "kind", "reason"),
    [
        ("payout.processed", EventKind.PAYOUT_PROCESSED, None),
        ("payout.failed", EventKind.PAYOUT_FAILED, "Beneficiary bank is down"),
        ("payout.reversed", EventKind.PAYOUT_REVERSED, "Beneficiary bank is down"),
    ],
)
def test_payout_webhook_is_normalised_with_our_reference_in_the_payload(
    gateway: RazorpayGateway, event: str, kind: EventKind, reason: str | None
) -> None:
    payout = {
        "id": "pout_1",
        "entity": "payout",
        "amount": 100_000,
        "currency": "INR",
        "reference_id": "wd-001",
        "status_details": {"description": "Beneficiary bank is down"},
    }
    body = _event(event, payout=payout)

    parsed = gateway.parse_webhook(body, _signed(body))

    assert parsed.kind is kind
    assert (parsed.payout_id, parsed.order_id, parsed.failure_reason) == ("pout_1", None, reason)
    assert (parsed.amount_minor, parsed.currency) == (100_000, "INR")
    assert parsed.payload["reference"] == "wd-001"


@pytest.mark.parametrize("event", ["order.paid", "payment.dispute.under_review", "subscription.charged"])
def test_unknown_webhook_is_ignored_but_still_verified(gateway: RazorpayGateway, event: str) -> None:
    body = _event(event, order={"id": "order_A"})

    parsed = gateway.parse_webhook(body, _signed(body))

    assert (parsed.kind, parsed.raw_type, parsed.event_id) == (EventKind.IGNORED, event, "evt_1")
    assert parsed.payment_id is None


def test_webhook_without_event_id_is_keyed_by_the_body_hash(gateway: RazorpayGateway) -> None:
    """Razorpay signatures carry no timestamp, so a replay is the same bytes: hash them."""
    body = _event("payment.captured", payment=_payment("pay_1", "captured"))

    parsed = gateway.parse_webhook(body, {"X-Razorpay-Signature": _webhook_signature(body)})

    assert parsed.event_id == hashlib.sha256(body.encode()).hexdigest()


@pytest.mark.parametrize("body", ["not json", json.dumps({"event": "payment.captured", "payload": {}}), "[]"])
def test_signed_but_malformed_webhook_is_rejected(gateway: RazorpayGateway, body: str) -> None:
    with pytest.raises(GatewayRejected):
        gateway.parse_webhook(body, _signed(body))
