"""Stripe adapter: PaymentIntents, refunds, payouts, disputes and webhooks through
``stripe.StripeClient``.

Every write carries an ``Idempotency-Key`` derived from our reference, so Stripe itself turns a
retried create into the original object (for at least 24 hours), and carries the reference in its
``metadata`` so it can be found again after that: refunds by listing the payment's refunds,
payouts by listing those created since the request. Stripe objects are read as plain dicts
(``to_dict``): since stripe 15 they are no longer dicts, and a missing field must not become an
AttributeError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from payments.gateways.base import (
    Confirmation,
    DisputeStatus,
    EventKind,
    GatewayName,
    GatewayRecord,
    Order,
    OrderRequest,
    PaymentInfo,
    PaymentStatus,
    PayoutRequest,
    PayoutResult,
    RecordKind,
    RefundResult,
    WebhookEvent,
)
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, SignatureInvalid

CHECKOUT_URL = "https://js.stripe.com/v3"
WEBHOOK_TOLERANCE_S = 300  # Stripe signs a timestamp: older deliveries are replays

_PENDING_INTENT = frozenset({"processing", "requires_action", "requires_confirmation", "requires_payment_method"})
#: Listing payouts from a little before the request covers clock skew between us and Stripe.
_PAYOUT_LOOKBACK = timedelta(hours=1)
_REFUND_STATUS = {"succeeded": "PROCESSED", "pending": "PENDING", "failed": "FAILED", "canceled": "FAILED"}
_PAYOUT_STATUS = {"paid": "PROCESSED", "failed": "FAILED", "canceled": "FAILED"}
_REFUND_EVENT_KIND = {
    "succeeded": EventKind.REFUND_PROCESSED,
    "failed": EventKind.REFUND_FAILED,
    "canceled": EventKind.REFUND_FAILED,
}
_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
_PAYOUT_EVENTS = {
    "payout.paid": EventKind.PAYOUT_PROCESSED,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.canceled": EventKind.PAYOUT_FAILED,
}
#: Balance transaction types that are money we match, by the kind of our record they match.
_SETTLED_TYPES = {
    "charge": RecordKind.DEPOSIT,
    "payment": RecordKind.DEPOSIT,  # a charge of some payment methods (``py_`` ids)
    "refund": RecordKind.REFUND,
    "payment_refund": RecordKind.REFUND,
    "payout": RecordKind.PAYOUT,
}
_DISPUTE_OUTCOME = {"won": EventKind.DISPUTE_WON, "lost": EventKind.DISPUTE_LOST}
_DISPUTE_STATUS = {
    "won": DisputeStatus.WON,
    "warning_closed": DisputeStatus.WON,
    "prevented": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
}


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
        return self._order(intent, request)

    def reopen_order(self, order_id: str, request: OrderRequest) -> Order:
        """The intent again, for its client secret (which we do not store)."""
        return self._order(self._call(self._client.v1.payment_intents.retrieve, order_id), request)

    def _order(self, intent: dict[str, Any], request: OrderRequest) -> Order:
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
        info = _intent_info(intent)
        if info.status is PaymentStatus.CAPTURED and (
            info.amount_minor != amount_minor or info.currency.lower() != currency.lower()
        ):
            raise GatewayRejected(
                f"stripe: received {info.amount_minor} {info.currency}, expected {amount_minor} {currency}"
            )
        return info

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The PaymentIntent's state; None while no payment was attempted."""
        intent = self._call(self._client.v1.payment_intents.retrieve, order_id)
        if intent["status"] == "requires_payment_method" and not intent.get("last_payment_error"):
            return None
        return _intent_info(intent)

    def capture_payment(self, payment_id: str, amount_minor: int, currency: str) -> PaymentInfo:
        """Capture a ``requires_capture`` intent (idempotent on the intent); report where it stands."""
        intent_id = payment_id if payment_id.startswith("pi_") else None
        if intent_id is None:
            charge = self._call(self._client.v1.charges.retrieve, payment_id)
            intent_id = charge["payment_intent"]
        try:
            intent = self._call(
                self._client.v1.payment_intents.capture,
                intent_id,
                {"amount_to_capture": amount_minor},
                {"idempotency_key": f"capture-{intent_id}"},
            )
        except GatewayRejected:
            intent = self._call(self._client.v1.payment_intents.retrieve, intent_id)
        return _intent_info(intent)

    def close_order(self, order_id: str) -> PaymentInfo | None:
        """Cancel the intent so nothing can be captured any more. Stripe refuses to cancel an
        intent that succeeded meanwhile: then the intent is fetched and its capture reported."""
        try:
            intent = self._call(self._client.v1.payment_intents.cancel, order_id, {"cancellation_reason": "abandoned"})
        except GatewayRejected:
            intent = self._call(self._client.v1.payment_intents.retrieve, order_id)
        info = _intent_info(intent)
        if info.status is PaymentStatus.AUTHORIZED:  # cancelling released it: nothing to capture
            return PaymentInfo(info.payment_id, order_id, PaymentStatus.FAILED, info.amount_minor, info.currency)
        return info

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        """Refund a PaymentIntent (pi_) or a charge (ch_, py_), deduped on ``refund-<reference>``."""
        target = "payment_intent" if payment_id.startswith("pi_") else "charge"
        refund = self._call(
            self._client.v1.refunds.create,
            {target: payment_id, "amount": amount_minor, "metadata": {"reference": reference}},
            {"idempotency_key": f"refund-{reference}"},
        )
        return _refund_result(refund)

    def find_refund(self, payment_id: str, reference: str) -> RefundResult | None:
        """The payment's refunds, ours by its metadata reference (Stripe cannot filter on it)."""
        target = "payment_intent" if payment_id.startswith("pi_") else "charge"
        listed = self._call(self._client.v1.refunds.list, {target: payment_id, "limit": 100})
        for refund in listed.get("data", []):
            if (refund.get("metadata") or {}).get("reference") == reference:
                return _refund_result(refund)
        return None

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
        return _payout_result(payout)

    def payout_status(self, payout_id: str) -> PayoutResult:
        """Where a payout stands, for a withdrawal whose webhook never came."""
        return _payout_result(self._call(self._client.v1.payouts.retrieve, payout_id))

    def find_payout(self, reference: str, since: datetime) -> PayoutResult | None:
        """Payouts cannot be searched by metadata: list those created since the request (all
        pages) and match our reference. None listed means Stripe made none for it."""
        created = {"gte": int((since - _PAYOUT_LOOKBACK).timestamp())}
        params: dict[str, Any] = {"created": created, "limit": 100}
        while True:
            page = self._call(self._client.v1.payouts.list, params)
            for payout in page.get("data", []):
                if (payout.get("metadata") or {}).get("reference") == reference:
                    return _payout_result(payout)
            if not page.get("has_more") or not page.get("data"):
                return None
            params = {**params, "starting_after": page["data"][-1]["id"]}

    def dispute_status(self, dispute_id: str) -> DisputeStatus:
        dispute = self._call(self._client.v1.disputes.retrieve, dispute_id)
        return _DISPUTE_STATUS.get(dispute.get("status", ""), DisputeStatus.OPEN)

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

    def settled_records(self, since: datetime, until: datetime) -> Iterator[GatewayRecord]:
        """Stripe's balance transactions created in ``[since, until)``, every page
        (``starting_after``), each with its source object expanded (one call per 100): a
        ``charge``/``payment`` is a deposit, a ``refund``/``payment_refund`` a refund (if it
        succeeded and has not failed since), a ``payout`` a payout (if it was paid); fees,
        transfers, adjustments and the failures of payouts and refunds are not records of ours.

        Amount and currency are the source object's - a charge's ``amount_captured``, a refund's
        or payout's ``amount`` - not the balance transaction's: a balance transaction counts in the
        account's balance currency, after conversion and with fees apart, while our records count
        what the customer paid or was paid, in its own currency. The time is the balance
        transaction's ``created``: when the money moved on Stripe's books."""
        created = {"gte": int(since.timestamp()), "lt": math.ceil(until.timestamp())}
        params: dict[str, Any] = {"created": created, "limit": 100, "expand": ["data.source"]}
        while True:
            page = self._call(self._client.v1.balance_transactions.list, params)
            for transaction in page.get("data", []):
                record = _settled_record(transaction)
                if record is not None and since <= record.created_at < until:
                    yield record
            if not page.get("has_more") or not page.get("data"):
                return
            params = {**params, "starting_after": page["data"][-1]["id"]}

    def _call(self, operation: Callable[..., stripe.StripeObject], *args: Any) -> dict[str, Any]:
        """Every HTTP call goes through here, so each gets the same mapping to the three outcomes
        and a plain dict."""
        try:
            return operation(*args).to_dict()
        except (
            stripe.APIConnectionError,
            stripe.RateLimitError,
            stripe.APIError,
            stripe.IdempotencyError,
            stripe.AuthenticationError,
            stripe.PermissionError,
        ) as exc:
            # An idempotency error means a request under our key exists (in progress, or with
            # other parameters): its outcome is not this answer, so it is unknown, not a no.
            # Refused credentials are this deployment's fault, not a no to the client's request.
            raise GatewayUnavailable(f"stripe: {exc}") from exc
        except stripe.StripeError as exc:  # card declined, invalid request
            raise GatewayRejected(f"stripe: {exc}") from exc


def _intent_info(intent: Mapping[str, Any]) -> PaymentInfo:
    """PaymentIntent -> where our deposit stands. A declined attempt leaves the intent payable
    (``requires_payment_method`` with an error): PENDING with the reason. Only ``canceled`` is
    final."""
    status = intent["status"]
    if status == "succeeded":
        ours = PaymentStatus.CAPTURED
    elif status == "requires_capture":
        ours = PaymentStatus.AUTHORIZED
    elif status == "canceled":
        ours = PaymentStatus.FAILED
    else:
        ours = PaymentStatus.PENDING
    return PaymentInfo(
        payment_id=intent.get("latest_charge") or intent["id"],
        order_id=intent["id"],
        status=ours,
        amount_minor=intent["amount_received"] if ours is PaymentStatus.CAPTURED else intent["amount"],
        currency=intent["currency"].upper(),
        failure_reason=_failure(intent),
    )


def _failure(intent: Mapping[str, Any]) -> str | None:
    """Stripe's customer-facing reason of the last failed attempt, or why the intent was cancelled."""
    return (intent.get("last_payment_error") or {}).get("message") or intent.get("cancellation_reason")


def _refund_result(refund: dict[str, Any]) -> RefundResult:
    return RefundResult(
        refund_id=refund["id"],
        status=_REFUND_STATUS.get(refund["status"], "PENDING"),
        amount_minor=refund["amount"],
        currency=(refund.get("currency") or "").upper() or None,
    )


def _payout_result(payout: dict[str, Any]) -> PayoutResult:
    return PayoutResult(
        payout_id=payout["id"],
        status=_PAYOUT_STATUS.get(payout["status"], "PENDING"),
        amount_minor=payout.get("amount"),
        currency=(payout.get("currency") or "").upper() or None,
    )


def _settled_record(transaction: dict[str, Any]) -> GatewayRecord | None:
    """A balance transaction as a record of ours, or None when it is none (another type, a
    refund that failed, a payout not paid, a source that was not expanded)."""
    kind = _SETTLED_TYPES.get(transaction.get("type", ""))
    source = transaction.get("source")
    if kind is None or not isinstance(source, dict):
        return None
    status = source.get("status") or ""
    reference = (source.get("metadata") or {}).get("reference")
    common: dict[str, Any] = {
        "gateway_id": source["id"],
        "currency": source["currency"].upper(),
        "status": status,
        "created_at": datetime.fromtimestamp(int(transaction["created"]), UTC),
        "our_reference": reference,
    }
    if kind is RecordKind.DEPOSIT:
        amount = source.get("amount_captured", source["amount"])
        return GatewayRecord(kind, amount_minor=amount, order_id=source.get("payment_intent"), **common)
    if kind is RecordKind.REFUND and status == "succeeded":
        payment = source.get("payment_intent") or source.get("charge")
        return GatewayRecord(kind, amount_minor=source["amount"], payment_id=payment, **common)
    if kind is RecordKind.PAYOUT and status == "paid":
        return GatewayRecord(kind, amount_minor=source["amount"], **common)
    return None


def _normalise(body: dict[str, Any]) -> WebhookEvent:
    """Map a verified Stripe event onto our kinds; unknown events are IGNORED, not errors."""
    raw_type = body["type"]
    obj = body["data"]["object"]
    common: dict[str, Any] = {
        "gateway": GatewayName.STRIPE,
        "event_id": body["id"],
        "raw_type": raw_type,
        "occurred_at": body.get("created"),
    }
    fields = _event_fields(raw_type, obj)
    if fields is None:
        return WebhookEvent(kind=EventKind.IGNORED, payload=body, **common)
    kind, values = fields
    reference = (obj.get("metadata") or {}).get("reference")  # our withdrawal or refund id
    if raw_type in _PAYOUT_EVENTS:
        body = {**body, "reference": reference}
    return WebhookEvent(kind=kind, payload=body, reference=reference, **common, **values)


_PAYMENT_EVENTS = {
    "payment_intent.succeeded": EventKind.PAYMENT_CAPTURED,
    "payment_intent.amount_capturable_updated": EventKind.PAYMENT_AUTHORIZED,
    # A declined attempt: the intent goes back to requires_payment_method and can still be paid.
    "payment_intent.payment_failed": EventKind.PAYMENT_ATTEMPT_FAILED,
    "payment_intent.canceled": EventKind.PAYMENT_FAILED,
}


def _event_fields(raw_type: str, obj: dict[str, Any]) -> tuple[EventKind, dict[str, Any]] | None:
    """The kind and fields of the event types we act on; None for the rest."""
    if raw_type in _PAYMENT_EVENTS:
        kind = _PAYMENT_EVENTS[raw_type]
        succeeded = kind is EventKind.PAYMENT_CAPTURED
        return kind, {
            "order_id": obj["id"],
            "payment_id": obj.get("latest_charge") or obj["id"],
            "amount_minor": obj["amount_received"] if succeeded else obj["amount"],
            "currency": obj["currency"].upper(),
            "failure_reason": None if succeeded else _failure(obj),
        }
    if raw_type in _REFUND_EVENTS:
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
        if obj["status"] == "warning_closed":  # an inquiry closed without a chargeback
            kind = EventKind.DISPUTE_WON
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
