"""Stripe adapter: PaymentIntents, refunds, payouts and webhooks through ``stripe.StripeClient``.

Every write carries an ``Idempotency-Key`` derived from our reference, so Stripe itself turns a
retried create into the original object. Stripe objects are read as plain dicts (``to_dict``):
since stripe 15 they are no longer dicts, and a missing field must not become an AttributeError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import stripe

from payments.gateways.base import (
    Confirmation,
    EventKind,
    GatewayName,
    Order,
    OrderRequest,
    PaymentInfo,
    PaymentStatus,
    PayoutRequest,
    PayoutResult,
    RefundResult,
    WebhookEvent,
)
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, SignatureInvalid

CHECKOUT_URL = "https://js.stripe.com/v3"
WEBHOOK_TOLERANCE_S = 300  # Stripe signs a timestamp: older deliveries are replays

_PENDING_INTENT = frozenset({"processing", "requires_action", "requires_confirmation"})
_REFUND_STATUS = {"succeeded": "PROCESSED", "pending": "PENDING", "failed": "FAILED", "canceled": "FAILED"}
_PAYOUT_STATUS = {"paid": "PROCESSED", "failed": "FAILED", "canceled": "FAILED"}
_REFUND_EVENT_KIND = {"succeeded": EventKind.REFUND_PROCESSED, "failed": EventKind.REFUND_FAILED}
_PAYOUT_EVENTS = {
    "payout.paid": EventKind.PAYOUT_PROCESSED,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.canceled": EventKind.PAYOUT_FAILED,
}
_DISPUTE_OUTCOME = {"won": EventKind.DISPUTE_WON, "lost": EventKind.DISPUTE_LOST}


class StripeGateway:
    """Stripe through its official SDK, every HTTP call bounded by ``timeout_s``."""

    name = GatewayName.STRIPE

    def __init__(
        self,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        timeout_s: float = 8.0,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self._publishable_key = publishable_key
        self._webhook_secret = webhook_secret
        # No SDK retries: failing over to the next gateway is our retry, and it keeps latency bounded.
        self._client = stripe.StripeClient(
            secret_key,
            http_client=http_client or stripe.RequestsClient(timeout=timeout_s),
            max_network_retries=0,
        )

    def create_order(self, request: OrderRequest) -> Order:
        """A PaymentIntent for Stripe.js, deduped by Stripe on ``order-<reference>``."""
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "metadata": {"reference": request.reference, "customer_id": request.customer_id},
        }
        if request.description:
            params["description"] = request.description
        if request.method_token:
            params["payment_method"] = request.method_token
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        intent = self._call(
            self._client.v1.payment_intents.create, params, {"idempotency_key": f"order-{request.reference}"}
        )
        return Order(
            gateway=self.name,
            order_id=intent["id"],
            amount_minor=request.amount_minor,
            currency=request.currency,
            checkout_url=CHECKOUT_URL,
            key=self._publishable_key,
            client_secret=intent["client_secret"],
        )

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        """Stripe.js confirmations are unsigned, so ask Stripe about OUR PaymentIntent instead."""
        intent = self._call(self._client.v1.payment_intents.retrieve, order_id)
        if confirmation.payment_id not in (intent["id"], intent.get("latest_charge")):
            raise SignatureInvalid("stripe: the confirmation names another payment")
        status = _intent_status(intent) or PaymentStatus.FAILED  # a confirmation for an untried intent
        if status is PaymentStatus.CAPTURED and (
            intent["amount_received"] != amount_minor or intent["currency"].lower() != currency.lower()
        ):
            raise GatewayRejected(
                f"stripe: received {intent['amount_received']} {intent['currency']}, expected {amount_minor} {currency}"
            )
        return PaymentInfo(
            payment_id=intent.get("latest_charge") or intent["id"],
            order_id=order_id,
            status=status,
            amount_minor=amount_minor,
            currency=currency,
            failure_reason=(_failure(intent) or "no payment was attempted") if status is PaymentStatus.FAILED else None,
        )

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The PaymentIntent's state for the sweeper; None while no payment was attempted."""
        intent = self._call(self._client.v1.payment_intents.retrieve, order_id)
        status = _intent_status(intent)
        if status is None:
            return None
        return PaymentInfo(
            payment_id=intent.get("latest_charge") or intent["id"],
            order_id=intent["id"],
            status=status,
            amount_minor=intent["amount_received"] if status is PaymentStatus.CAPTURED else intent["amount"],
            currency=intent["currency"].upper(),
            failure_reason=_failure(intent) if status is PaymentStatus.FAILED else None,
        )

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        """Refund a PaymentIntent (pi_) or a charge (ch_, py_), deduped on ``refund-<reference>``."""
        target = "payment_intent" if payment_id.startswith("pi_") else "charge"
        refund = self._call(
            self._client.v1.refunds.create,
            {target: payment_id, "amount": amount_minor, "metadata": {"reference": reference}},
            {"idempotency_key": f"refund-{reference}"},
        )
        return RefundResult(
            refund_id=refund["id"],
            status=_REFUND_STATUS.get(refund["status"], "PENDING"),
            amount_minor=refund["amount"],
        )

    def payout(self, request: PayoutRequest) -> PayoutResult:
        """A payout to a bank account or card of our Stripe balance, deduped on ``payout-<reference>``."""
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "destination": request.destination_token,
            "metadata": {"reference": request.reference},
        }
        if request.description:
            params["description"] = request.description
        payout = self._call(self._client.v1.payouts.create, params, {"idempotency_key": f"payout-{request.reference}"})
        return PayoutResult(payout_id=payout["id"], status=_PAYOUT_STATUS.get(payout["status"], "PENDING"))

    def payout_status(self, payout_id: str) -> PayoutResult:
        """Where a payout stands, for a withdrawal whose webhook never came."""
        payout = self._call(self._client.v1.payouts.retrieve, payout_id)
        return PayoutResult(payout_id=payout["id"], status=_PAYOUT_STATUS.get(payout["status"], "PENDING"))

    def parse_webhook(self, raw_body: str, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify Stripe-Signature (HMAC and a timestamp within 300 s) over the raw body, then normalise."""
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = lowered.get("stripe-signature")
        # The SDK compares with hmac.compare_digest, which raises TypeError on non-ASCII text.
        if not signature or not signature.isascii():
            raise SignatureInvalid("stripe: Stripe-Signature missing or malformed")
        try:
            event = self._client.construct_event(
                raw_body, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
        except stripe.SignatureVerificationError as exc:
            raise SignatureInvalid(f"stripe: {exc}") from exc
        except ValueError as exc:
            raise GatewayRejected("stripe: webhook body is not a Stripe event") from exc
        body = event.to_dict()
        try:
            return _normalise(body)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GatewayRejected(f"stripe: malformed webhook event: {exc!r}") from exc

    def _call(self, operation: Callable[..., stripe.StripeObject], *args: Any) -> dict[str, Any]:
        """Every HTTP call goes through here, so each gets the same error mapping and a plain dict."""
        try:
            return operation(*args).to_dict()
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"stripe: {exc}") from exc
        except stripe.StripeError as exc:  # card declined, invalid request, auth, idempotency misuse
            raise GatewayRejected(f"stripe: {exc}") from exc


def _intent_status(intent: Mapping[str, Any]) -> PaymentStatus | None:
    """PaymentIntent status -> ours; None when it awaits its first payment method."""
    status = intent["status"]
    if status == "succeeded":
        return PaymentStatus.CAPTURED
    if status == "requires_capture":
        return PaymentStatus.AUTHORIZED
    if status in _PENDING_INTENT:
        return PaymentStatus.PENDING
    if status == "canceled" or intent.get("last_payment_error"):
        return PaymentStatus.FAILED
    return None


def _failure(intent: Mapping[str, Any]) -> str | None:
    """Stripe's customer-facing reason of the last failed attempt, if any."""
    return (intent.get("last_payment_error") or {}).get("message") or intent.get("cancellation_reason")


def _normalise(body: dict[str, Any]) -> WebhookEvent:
    """Map a verified Stripe event onto our kinds; unknown events are IGNORED, not errors."""
    raw_type = body["type"]
    obj = body["data"]["object"]
    common: dict[str, Any] = {"gateway": GatewayName.STRIPE, "event_id": body["id"], "raw_type": raw_type}
    fields = _event_fields(raw_type, obj)
    if fields is None:
        return WebhookEvent(kind=EventKind.IGNORED, payload=body, **common)
    kind, values = fields
    reference = (obj.get("metadata") or {}).get("reference")  # our withdrawal or refund id
    if raw_type in _PAYOUT_EVENTS:
        body = {**body, "reference": reference}
    return WebhookEvent(kind=kind, payload=body, reference=reference, **common, **values)


def _event_fields(raw_type: str, obj: dict[str, Any]) -> tuple[EventKind, dict[str, Any]] | None:
    """The kind and fields of the event types we act on; None for the rest."""
    if raw_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        succeeded = raw_type == "payment_intent.succeeded"
        return EventKind.PAYMENT_CAPTURED if succeeded else EventKind.PAYMENT_FAILED, {
            "order_id": obj["id"],
            "payment_id": obj.get("latest_charge") or obj["id"],
            "amount_minor": obj["amount_received"] if succeeded else obj["amount"],
            "currency": obj["currency"].upper(),
            "failure_reason": None if succeeded else _failure(obj),
        }
    if raw_type in ("refund.created", "refund.updated"):
        kind = _REFUND_EVENT_KIND.get(obj["status"])
        return None if kind is None else (kind, _refund_fields(kind, obj))
    if raw_type in _PAYOUT_EVENTS:
        kind = _PAYOUT_EVENTS[raw_type]
        return kind, {
            "payout_id": obj["id"],
            "amount_minor": obj["amount"],
            "currency": obj["currency"].upper(),
            "failure_reason": obj.get("failure_message") if kind is EventKind.PAYOUT_FAILED else None,
        }
    if raw_type == "charge.dispute.created":
        return EventKind.DISPUTE_CREATED, _dispute_fields(obj)
    if raw_type == "charge.dispute.closed":
        kind = _DISPUTE_OUTCOME.get(obj["status"])
        return None if kind is None else (kind, _dispute_fields(obj))
    return None


def _refund_fields(kind: EventKind, refund: dict[str, Any]) -> dict[str, Any]:
    """A refund names its PaymentIntent, or its charge when it was made against one."""
    return {
        "refund_id": refund["id"],
        "payment_id": refund.get("payment_intent") or refund.get("charge"),
        "amount_minor": refund["amount"],
        "currency": refund["currency"].upper(),
        "failure_reason": refund.get("failure_reason") if kind is EventKind.REFUND_FAILED else None,
    }


def _dispute_fields(dispute: dict[str, Any]) -> dict[str, Any]:
    """A dispute names the charge (our payment id) and its PaymentIntent (our order id)."""
    return {
        "dispute_id": dispute["id"],
        "payment_id": dispute.get("charge"),
        "order_id": dispute.get("payment_intent"),
        "amount_minor": dispute["amount"],
        "currency": dispute["currency"].upper(),
    }
