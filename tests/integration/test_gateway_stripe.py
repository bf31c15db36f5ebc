"""StripeGateway driven through the real stripe SDK (StripeClient + RequestsClient), with only its
HTTP stubbed by `responses`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs

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
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, SignatureInvalid
from payments.gateways.stripe_gateway import CHECKOUT_URL, StripeGateway

SECRET_KEY = "sk_test_123"
PUBLISHABLE_KEY = "pk_test_123"
WEBHOOK_SECRET = "whsec_test_123"
API = "https://api.stripe.com/v1"


@pytest.fixture
def gateway() -> StripeGateway:
    return StripeGateway(SECRET_KEY, PUBLISHABLE_KEY, WEBHOOK_SECRET, timeout_s=3.5)


def _form(request: Any) -> dict[str, list[str]]:
    """Stripe's v1 API takes form-encoded bodies, nested keys as ``metadata[reference]``."""
    return parse_qs(request.body)


def _order_request(**overrides: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "reference": "txn-001",
        "amount_minor": 5_000,
        "currency": "USD",
        "method_type": MethodType.CARD,
        "customer_id": "user-42",
        "description": "Wallet top-up",
    }
    return OrderRequest(**{**values, **overrides})


def _intent(status: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 5_000,
        "amount_received": 5_000 if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "latest_charge": "ch_1",
        "client_secret": "pi_1_secret_abc",
        "last_payment_error": None,
        "cancellation_reason": None,
        "metadata": {"reference": "txn-001"},
        **overrides,
    }


def _stripe_error(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "code": code}}


# --- create_order ---------------------------------------------------------------------------------


def test_create_order_creates_a_payment_intent_with_the_reference_as_idempotency_key(
    http: responses.RequestsMock, gateway: StripeGateway
) -> None:
    http.post(f"{API}/payment_intents", json=_intent("requires_payment_method", amount_received=0))

    order = gateway.create_order(_order_request())

    sent = http.calls[0].request
    assert sent.headers["Idempotency-Key"] == "order-txn-001"
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.req_kwargs["timeout"] == 3.5
    assert _form(sent) == {
        "amount": ["5000"],
        "currency": ["usd"],
        "description": ["Wallet top-up"],
        "metadata[reference]": ["txn-001"],
        "metadata[customer_id]": ["user-42"],
        "automatic_payment_methods[enabled]": ["true"],
    }
    assert order.gateway is GatewayName.STRIPE
    assert (order.order_id, order.amount_minor, order.currency) == ("pi_1", 5_000, "USD")
    assert order.checkout_url == CHECKOUT_URL == "https://js.stripe.com/v3"
    assert (order.key, order.client_secret) == (PUBLISHABLE_KEY, "pi_1_secret_abc")


def test_create_order_with_a_stored_method_uses_it_instead_of_automatic_methods(
    http: responses.RequestsMock, gateway: StripeGateway
) -> None:
    http.post(f"{API}/payment_intents", json=_intent("requires_confirmation"))

    gateway.create_order(_order_request(method_token="pm_card_visa", description=None))

    form = _form(http.calls[0].request)
    assert form["payment_method"] == ["pm_card_visa"]
    assert "automatic_payment_methods[enabled]" not in form
    assert "description" not in form


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, _stripe_error("api_error", "Something went wrong on Stripe's end")),
        (503, _stripe_error("api_error", "Service unavailable")),
        (429, _stripe_error("invalid_request_error", "Too many requests", "rate_limit")),
    ],
)
def test_create_order_5xx_or_rate_limit_is_unavailable(
    http: responses.RequestsMock, gateway: StripeGateway, status: int, body: dict[str, Any]
) -> None:
    http.post(f"{API}/payment_intents", status=status, json=body)

    with pytest.raises(GatewayUnavailable):
        gateway.create_order(_order_request())

    assert len(http.calls) == 1  # no SDK retries: failover is the caller's retry


# --- verify_confirmation --------------------------------------------------------------------------


@pytest.mark.parametrize("claimed_payment_id", ["ch_1", "pi_1"])
def test_succeeded_intent_with_the_right_amount_is_captured(
    http: responses.RequestsMock, gateway: StripeGateway, claimed_payment_id: str
) -> None:
    http.get(f"{API}/payment_intents/pi_1", json=_intent("succeeded"))

    info = gateway.verify_confirmation("pi_1", 5_000, "USD", Confirmation(payment_id=claimed_payment_id, data={}))

    assert info.status is PaymentStatus.CAPTURED
    assert (info.payment_id, info.order_id) == ("ch_1", "pi_1")
    assert (info.amount_minor, info.currency, info.failure_reason) == (5_000, "USD", None)
    assert http.calls[0].request.req_kwargs["timeout"] == 3.5


@pytest.mark.parametrize(
    ("amount_minor", "currency"),
    [(5_001, "USD"), (4_999, "USD"), (5_000, "EUR")],
    ids=["more", "less", "ccy"],
)
def test_succeeded_intent_with_another_amount_or_currency_is_rejected(
    http: responses.RequestsMock, gateway: StripeGateway, amount_minor: int, currency: str
) -> None:
    http.get(f"{API}/payment_intents/pi_1", json=_intent("succeeded"))

    with pytest.raises(GatewayRejected, match="expected"):
        gateway.verify_confirmation("pi_1", amount_minor, currency, Confirmation(payment_id="ch_1", data={}))


def test_confirmation_naming_another_payment_is_invalid(http: responses.RequestsMock, gateway: StripeGateway) -> None:
    """The client may not point our order at a charge that belongs to a different PaymentIntent."""
    http.get(f"{API}/payment_intents/pi_1", json=_intent("succeeded"))

    with pytest.raises(SignatureInvalid):
        gateway.verify_confirmation("pi_1", 5_000, "USD", Confirmation(payment_id="ch_SOMEONE_ELSE", data={}))


@pytest.mark.parametrize("status", ["processing", "requires_action", "requires_confirmation"])
def test_unfinished_intent_is_pending(http: responses.RequestsMock, gateway: StripeGateway, status: str) -> None:
    http.get(f"{API}/payment_intents/pi_1", json=_intent(status))

    info = gateway.verify_confirmation("pi_1", 5_000, "USD", Confirmation(payment_id="pi_1", data={}))

    assert info.status is PaymentStatus.PENDING
    assert info.failure_reason is None


@pytest.mark.parametrize(
    ("overrides", "status", "reason"),
    [
        (
            {
                "status": "requires_payment_method",
                "last_payment_error": {"message": "Your card was declined."},
            },
            PaymentStatus.PENDING,
            "Your card was declined.",
        ),
        ({"status": "canceled", "cancellation_reason": "abandoned"}, PaymentStatus.FAILED, "abandoned"),
        ({"status": "requires_payment_method"}, PaymentStatus.PENDING, None),
    ],
    ids=["declined", "canceled", "never-attempted"],
)
def test_only_a_canceled_intent_is_failed_a_declined_one_stays_payable(
    http: responses.RequestsMock,
    gateway: StripeGateway,
    overrides: dict[str, Any],
    status: PaymentStatus,
    reason: str | None,
) -> None:
    """ "Not paid yet" is not "failed": a declined or untried intent can still be paid."""
    http.get(f"{API}/payment_intents/pi_1", json=_intent(**overrides))

    info = gateway.verify_confirmation("pi_1", 5_000, "USD", Confirmation(payment_id="pi_1", data={}))

    assert info.status is status
    assert info.failure_reason == reason


def test_verify_of_an_unknown_intent_is_rejected(http: responses.RequestsMock, gateway: StripeGateway) -> None:
    http.get(
        f"{API}/payment_intents/pi_missing",
        status=404,
        json=_stripe_error("invalid_request_error", "No such payment_intent: 'pi_missing'", "resource_missing"),
    )

    with pytest.raises(GatewayRejected, match="No such payment_intent"):
        gateway.verify_confirmation("pi_missing", 5_000, "USD", Confirmation(payment_id="pi_missing", data={}))


# --- fetch_payment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "status", "amount", "reason"),
    [
        ({"status": "succeeded", "amount_received": 5_000}, PaymentStatus.CAPTURED, 5_000, None),
        ({"status": "requires_capture"}, PaymentStatus.AUTHORIZED, 5_000, None),
        ({"status": "processing"}, PaymentStatus.PENDING, 5_000, None),
        (
            {"status": "requires_payment_method", "last_payment_error": {"message": "Insufficient funds."}},
            PaymentStatus.PENDING,
            5_000,
            "Insufficient funds.",
        ),
    ],
    ids=["succeeded", "requires-capture", "processing", "declined"],
)
def test_fetch_payment_maps_the_intent_status(
    http: responses.RequestsMock,
    gateway: StripeGateway,
    overrides: dict[str, Any],
    status: PaymentStatus,
    amount: int,
    reason: str | None,
) -> None:
    http.get(f"{API}/payment_intents/pi_1", json=_intent(**overrides))

    info = gateway.fetch_payment("pi_1")

    assert info is not None
    assert (info.payment_id, info.order_id, info.status) == ("ch_1", "pi_1", status)
    assert (info.amount_minor, info.currency, info.failure_reason) == (amount, "USD", reason)


def test_fetch_payment_is_none_while_nothing_was_attempted(
    http: responses.RequestsMock, gateway: StripeGateway
) -> None:
    http.get(f"{API}/payment_intents/pi_1", json=_intent("requires_payment_method", latest_charge=None))

    assert gateway.fetch_payment("pi_1") is None


# --- refund ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stripe_status", "status"),
    [("succeeded", "PROCESSED"), ("pending", "PENDING"), ("failed", "FAILED"), ("canceled", "FAILED")],
)
def test_refund_of_a_charge_is_idempotent_on_our_reference(
    http: responses.RequestsMock, gateway: StripeGateway, stripe_status: str, status: str
) -> None:
    http.post(f"{API}/refunds", json={"id": "re_1", "object": "refund", "amount": 2_000, "status": stripe_status})

    result = gateway.refund("ch_1", 2_000, "USD", "rf-007")

    sent = http.calls[0].request
    assert sent.headers["Idempotency-Key"] == "refund-rf-007"
    assert _form(sent) == {"charge": ["ch_1"], "amount": ["2000"], "metadata[reference]": ["rf-007"]}
    assert (result.refund_id, result.status, result.amount_minor) == ("re_1", status, 2_000)


def test_refund_of_a_payment_intent_names_the_payment_intent(
    http: responses.RequestsMock, gateway: StripeGateway
) -> None:
    http.post(f"{API}/refunds", json={"id": "re_1", "object": "refund", "amount": 2_000, "status": "succeeded"})

    gateway.refund("pi_1", 2_000, "USD", "rf-008")

    form = _form(http.calls[0].request)
    assert form["payment_intent"] == ["pi_1"]
    assert "charge" not in form


# --- payout ---------------------------------------------------------------------------------------


def _payout_request(**overrides: Any) -> PayoutRequest:
    values: dict[str, Any] = {
        "reference": "wd-001",
        "amount_minor": 10_000,
        "currency": "USD",
        "method_type": MethodType.BANK_TRANSFER,
        "destination_token": "ba_123",
    }
    return PayoutRequest(**{**values, **overrides})


@pytest.mark.parametrize(
    ("stripe_status", "status"),
    [("paid", "PROCESSED"), ("pending", "PENDING"), ("in_transit", "PENDING"), ("failed", "FAILED")],
)
def test_payout_is_idempotent_on_our_reference(
    http: responses.RequestsMock, gateway: StripeGateway, stripe_status: str, status: str
) -> None:
    http.post(f"{API}/payouts", json={"id": "po_1", "object": "payout", "amount": 10_000, "status": stripe_status})

    result = gateway.payout(_payout_request())

    sent = http.calls[0].request
    assert sent.headers["Idempotency-Key"] == "payout-wd-001"
    assert sent.req_kwargs["timeout"] == 3.5
    assert _form(sent) == {
        "amount": ["10000"],
        "currency": ["usd"],
        "destination": ["ba_123"],
        "metadata[reference]": ["wd-001"],
    }
    assert (result.payout_id, result.status) == ("po_1", status)


def test_payout_beyond_the_balance_is_rejected(http: responses.RequestsMock, gateway: StripeGateway) -> None:
    http.post(
        f"{API}/payouts",
        status=400,
        json=_stripe_error("invalid_request_error", "You have insufficient funds", "balance_insufficient"),
    )

    with pytest.raises(GatewayRejected, match="insufficient funds"):
        gateway.payout(_payout_request())


# --- parse_webhook --------------------------------------------------------------------------------


def _event(event_type: str, obj: dict[str, Any], event_id: str = "evt_1") -> str:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}})


def _signature(body: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    """What Stripe sends: ``t=<unix>,v1=<HMAC-SHA256(secret, "<t>.<raw body>") hex>``."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={v1}"


def _parse(gateway: StripeGateway, event_type: str, obj: dict[str, Any]) -> Any:
    body = _event(event_type, obj)
    return gateway.parse_webhook(body, {"Stripe-Signature": _signature(body)})


def _refund(status: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": "re_1",
        "object": "refund",
        "amount": 2_000,
        "currency": "usd",
        "status": status,
        "payment_intent": "pi_1",
        "charge": "ch_1",
        "failure_reason": None,
        **overrides,
    }


def _payout(status: str, **overrides: Any) -> dict[str, Any]:
    return {
        "id": "po_1",
        "object": "payout",
        "amount": 10_000,
        "currency": "usd",
        "status": status,
        "failure_message": None,
        "metadata": {"reference": "wd-001"},
        **overrides,
    }


def _dispute(status: str) -> dict[str, Any]:
    return {
        "id": "dp_1",
        "object": "dispute",
        "amount": 5_000,
        "currency": "usd",
        "status": status,
        "charge": "ch_1",
        "payment_intent": "pi_1",
    }


def test_payment_intent_succeeded_is_captured(gateway: StripeGateway) -> None:
    parsed = _parse(gateway, "payment_intent.succeeded", _intent("succeeded"))

    assert (parsed.gateway, parsed.event_id, parsed.kind, parsed.raw_type) == (
        GatewayName.STRIPE,
        "evt_1",
        EventKind.PAYMENT_CAPTURED,
        "payment_intent.succeeded",
    )
    assert (parsed.order_id, parsed.payment_id) == ("pi_1", "ch_1")
    assert (parsed.amount_minor, parsed.currency, parsed.failure_reason) == (5_000, "USD", None)
    assert parsed.payload["data"]["object"]["id"] == "pi_1"


def test_payment_intent_succeeded_without_a_charge_names_the_intent(gateway: StripeGateway) -> None:
    parsed = _parse(gateway, "payment_intent.succeeded", _intent("succeeded", latest_charge=None))

    assert parsed.payment_id == "pi_1"


def test_payment_intent_failed_carries_the_reason(gateway: StripeGateway) -> None:
    intent = _intent("requires_payment_method", last_payment_error={"message": "Your card has expired."})

    parsed = _parse(gateway, "payment_intent.payment_failed", intent)

    assert parsed.kind is EventKind.PAYMENT_ATTEMPT_FAILED  # the intent can still be paid
    assert (parsed.order_id, parsed.payment_id, parsed.failure_reason) == (
        "pi_1",
        "ch_1",
        "Your card has expired.",
    )
    assert (parsed.amount_minor, parsed.currency) == (5_000, "USD")


@pytest.mark.parametrize("event_type", ["refund.created", "refund.updated"])
@pytest.mark.parametrize(
    ("refund", "kind", "reason"),
    [
        (_refund("succeeded"), EventKind.REFUND_PROCESSED, None),
        (
            _refund("failed", failure_reason="expired_or_canceled_card"),
            EventKind.REFUND_FAILED,
            "expired_or_canceled_card",
        ),
    ],
    ids=["succeeded", "failed"],
)
def test_refund_event_is_normalised_by_its_status(
    gateway: StripeGateway, event_type: str, refund: dict[str, Any], kind: EventKind, reason: str | None
) -> None:
    parsed = _parse(gateway, event_type, refund)

    assert parsed.kind is kind
    assert (parsed.refund_id, parsed.payment_id, parsed.failure_reason) == ("re_1", "pi_1", reason)
    assert (parsed.amount_minor, parsed.currency) == (2_000, "USD")


def test_refund_of_a_bare_charge_names_the_charge(gateway: StripeGateway) -> None:
    parsed = _parse(gateway, "refund.updated", _refund("succeeded", payment_intent=None))

    assert parsed.payment_id == "ch_1"


def test_pending_refund_event_is_ignored(gateway: StripeGateway) -> None:
    parsed = _parse(gateway, "refund.created", _refund("pending"))

    assert (parsed.kind, parsed.refund_id) == (EventKind.IGNORED, None)


@pytest.mark.parametrize(
    ("event_type", "payout", "kind", "reason"),
    [
        ("payout.paid", _payout("paid"), EventKind.PAYOUT_PROCESSED, None),
        (
            "payout.failed",
            _payout("failed", failure_message="The bank account has been closed."),
            EventKind.PAYOUT_FAILED,
            "The bank account has been closed.",
        ),
        ("payout.canceled", _payout("canceled"), EventKind.PAYOUT_FAILED, None),
    ],
)
def test_payout_event_is_normalised_with_our_reference_in_the_payload(
    gateway: StripeGateway, event_type: str, payout: dict[str, Any], kind: EventKind, reason: str | None
) -> None:
    parsed = _parse(gateway, event_type, payout)

    assert parsed.kind is kind
    assert (parsed.payout_id, parsed.order_id, parsed.failure_reason) == ("po_1", None, reason)
    assert (parsed.amount_minor, parsed.currency) == (10_000, "USD")
    assert parsed.payload["reference"] == "wd-001"


@pytest.mark.parametrize(
    ("event_type", "status", "kind"),
    [
        ("charge.dispute.created", "needs_response", EventKind.DISPUTE_CREATED),
        ("charge.dispute.closed", "won", EventKind.DISPUTE_WON),
        ("charge.dispute.closed", "lost", EventKind.DISPUTE_LOST),
    ],
)
def test_dispute_event_is_normalised(gateway: StripeGateway, event_type: str, status: str, kind: EventKind) -> None:
    parsed = _parse(gateway, event_type, _dispute(status))

    assert parsed.kind is kind
    assert (parsed.dispute_id, parsed.payment_id, parsed.order_id) == ("dp_1", "ch_1", "pi_1")
    assert (parsed.amount_minor, parsed.currency) == (5_000, "USD")


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("charge.dispute.updated", _dispute("under_review")),
        ("charge.refunded", {"id": "ch_1", "object": "charge", "amount_refunded": 2_000}),
        ("customer.created", {"id": "cus_1", "object": "customer"}),
        ("payment_intent.created", _intent("requires_payment_method")),
    ],
    ids=["dispute-updated", "charge-refunded", "customer-created", "intent-created"],
)
def test_other_events_are_ignored_but_still_verified(
    gateway: StripeGateway, event_type: str, obj: dict[str, Any]
) -> None:
    parsed = _parse(gateway, event_type, obj)

    assert (parsed.kind, parsed.raw_type, parsed.event_id) == (EventKind.IGNORED, event_type, "evt_1")
    assert (parsed.payment_id, parsed.refund_id, parsed.dispute_id) == (None, None, None)


@pytest.mark.parametrize(
    "make_header",
    [
        lambda body: _signature(body, secret="whsec_not_ours"),
        lambda body: _signature(body, timestamp=int(time.time()) - 301),
        lambda body: _signature(body + " "),
        lambda body: "garbage",
        lambda body: "t=1,v1=" + "é" * 64,
        lambda body: "",
    ],
    ids=["wrong-secret", "older-than-300s", "other-body", "garbage", "non-ascii", "empty"],
)
def test_forged_stale_or_empty_signature_is_invalid(gateway: StripeGateway, make_header: Any) -> None:
    body = _event("payment_intent.succeeded", _intent("succeeded"))

    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(body, {"Stripe-Signature": make_header(body)})


def test_missing_signature_header_is_invalid(gateway: StripeGateway) -> None:
    body = _event("payment_intent.succeeded", _intent("succeeded"))

    with pytest.raises(SignatureInvalid):
        gateway.parse_webhook(body, {"Content-Type": "application/json"})


def test_signature_within_the_tolerance_is_accepted(gateway: StripeGateway) -> None:
    body = _event("payment_intent.succeeded", _intent("succeeded"))

    parsed = gateway.parse_webhook(body, {"Stripe-Signature": _signature(body, timestamp=int(time.time()) - 240)})

    assert parsed.kind is EventKind.PAYMENT_CAPTURED


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"id": "evt_1", "object": "v2.core.event", "type": "x"}),
        json.dumps({"id": "evt_1"}),
    ],
    ids=["not-json", "thin-event", "no-type"],
)
def test_signed_but_malformed_webhook_is_rejected(gateway: StripeGateway, body: str) -> None:
    with pytest.raises(GatewayRejected):
        gateway.parse_webhook(body, {"Stripe-Signature": _signature(body)})
