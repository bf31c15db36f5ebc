"""Razorpay adapter: orders and checkout signatures, refunds, RazorpayX payouts, webhooks.

Razorpay dedupes neither orders nor refunds: our reference travels as the ``receipt`` so a retried
create can be matched up by hand, but only the caller's stored order id prevents a second order.
RazorpayX payouts are deduped by Razorpay through the ``X-Payout-Idempotency`` header.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import razorpay
import requests

from payments.gateways.base import (
    Confirmation,
    EventKind,
    GatewayName,
    MethodType,
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

CHECKOUT_URL = "https://checkout.razorpay.com/v1/checkout.js"
#: RazorpayX has no resource in the SDK; the client's generic ``post`` still authenticates it.
PAYOUTS_PATH = "/v1/payouts"
NARRATION_MAX = 30  # RazorpayX: at most 30 letters, digits and spaces

_PAYOUT_MODES = {
    MethodType.BANK_TRANSFER: "IMPS",
    MethodType.UPI: "UPI",
    MethodType.CARD: "card",
    MethodType.WALLET: "amazonpay",
}
_PAYOUT_STATUS = {
    "processed": "PROCESSED",
    "processing": "PROCESSING",
    "failed": "FAILED",
    "reversed": "FAILED",
    "rejected": "FAILED",
    "cancelled": "FAILED",
}
_REFUND_STATUS = {"processed": "PROCESSED", "failed": "FAILED"}

_PAYMENT_EVENTS = {
    "payment.captured": EventKind.PAYMENT_CAPTURED,
    "payment.authorized": EventKind.PAYMENT_AUTHORIZED,
    "payment.failed": EventKind.PAYMENT_FAILED,
}
_REFUND_EVENTS = {"refund.processed": EventKind.REFUND_PROCESSED, "refund.failed": EventKind.REFUND_FAILED}
_PAYOUT_EVENTS = {
    "payout.processed": EventKind.PAYOUT_PROCESSED,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.reversed": EventKind.PAYOUT_REVERSED,
}


class RazorpayGateway:
    """Razorpay through its official SDK, every HTTP call bounded by ``timeout_s``."""

    name = GatewayName.RAZORPAY

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        payout_account_number: str | None = None,
        timeout_s: float = 8.0,
    ) -> None:
        self._key_id = key_id
        self._webhook_secret = webhook_secret
        self._payout_account_number = payout_account_number
        self._timeout_s = timeout_s
        # The SDK's own retries stay off (its default): failing over to the next gateway is our retry.
        self._client = razorpay.Client(auth=(key_id, key_secret))

    def create_order(self, request: OrderRequest) -> Order:
        """A Razorpay order for checkout.js; the receipt is our reference (Razorpay does not dedupe it)."""
        order = self._call(
            self._client.order.create,
            {
                "amount": request.amount_minor,
                "currency": request.currency,
                "receipt": request.reference,
                "notes": {"reference": request.reference, "customer_id": request.customer_id},
            },
        )
        return Order(
            gateway=self.name,
            order_id=order["id"],
            amount_minor=request.amount_minor,
            currency=request.currency,
            checkout_url=CHECKOUT_URL,
            key=self._key_id,
        )

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        """Checkout's HMAC over OUR order id and the payment id proves the payment; no HTTP call."""
        if confirmation.data.get("razorpay_order_id", order_id) != order_id:
            raise SignatureInvalid("razorpay: the confirmation is for another order")
        signature = confirmation.data.get("razorpay_signature")
        _require_ascii(signature)
        try:
            self._client.utility.verify_payment_signature(
                {
                    "razorpay_order_id": order_id,
                    "razorpay_payment_id": confirmation.payment_id,
                    "razorpay_signature": signature,
                }
            )
        except razorpay.errors.SignatureVerificationError as exc:
            raise SignatureInvalid("razorpay: payment signature does not verify") from exc
        return PaymentInfo(
            payment_id=confirmation.payment_id,
            order_id=order_id,
            status=PaymentStatus.CAPTURED,
            amount_minor=amount_minor,
            currency=currency,
        )

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The order's best payment attempt: captured, else authorized, else failed once all failed."""
        items = self._call(self._client.order.payments, order_id, {}).get("items", [])
        if not items:
            return None
        payment, status = _best_attempt(items)
        return PaymentInfo(
            payment_id=payment["id"],
            order_id=order_id,
            status=status,
            amount_minor=payment["amount"],
            currency=payment["currency"].upper(),
            failure_reason=payment.get("error_description") if status is PaymentStatus.FAILED else None,
        )

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        """Refunds in the payment's own currency; the receipt carries our reference (not deduped)."""
        refund = self._call(
            self._client.payment.refund,
            payment_id,
            {"amount": amount_minor, "receipt": reference, "notes": {"reference": reference}},
        )
        return RefundResult(
            refund_id=refund["id"],
            status=_REFUND_STATUS.get(refund.get("status"), "PENDING"),
            amount_minor=refund["amount"],
        )

    def payout(self, request: PayoutRequest) -> PayoutResult:
        """A RazorpayX payout to a fund account, deduped by Razorpay on our reference."""
        if self._payout_account_number is None:
            raise GatewayRejected("razorpay: no RazorpayX account number configured for payouts")
        mode = _PAYOUT_MODES.get(request.method_type)
        if mode is None:
            raise GatewayRejected(f"razorpay: no payout mode for {request.method_type}")
        body: dict[str, Any] = {
            "account_number": self._payout_account_number,
            "fund_account_id": request.destination_token,
            "amount": request.amount_minor,
            "currency": request.currency,
            "mode": mode,
            "purpose": "payout",
            "queue_if_low_balance": True,
            "reference_id": request.reference,
        }
        narration = _narration(request.description)
        if narration:
            body["narration"] = narration
        payout = self._call(self._client.post, PAYOUTS_PATH, body, headers={"X-Payout-Idempotency": request.reference})
        return PayoutResult(payout_id=payout["id"], status=_PAYOUT_STATUS.get(payout["status"], "PENDING"))

    def payout_status(self, payout_id: str) -> PayoutResult:
        """Where a payout stands, for a withdrawal whose webhook never came."""
        payout = self._call(self._client.get, f"{PAYOUTS_PATH}/{payout_id}", {})
        return PayoutResult(payout_id=payout["id"], status=_PAYOUT_STATUS.get(payout["status"], "PENDING"))

    def parse_webhook(self, raw_body: str, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify X-Razorpay-Signature over the raw body, then normalise the event.

        The event id is Razorpay's ``X-Razorpay-Event-Id``; without it we fall back to the body's
        sha256, since a Razorpay signature carries no timestamp and a replay is byte-identical.
        """
        if not self._webhook_secret:  # an empty HMAC key is one anybody can sign with
            raise SignatureInvalid("razorpay: no webhook secret configured")
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = lowered.get("x-razorpay-signature")
        _require_ascii(signature)
        try:
            self._client.utility.verify_webhook_signature(raw_body, signature, self._webhook_secret)
        except razorpay.errors.SignatureVerificationError as exc:
            raise SignatureInvalid("razorpay: webhook signature does not verify") from exc
        try:
            body = json.loads(raw_body)
        except ValueError as exc:
            raise GatewayRejected("razorpay: webhook body is not JSON") from exc
        event_id = lowered.get("x-razorpay-event-id") or hashlib.sha256(raw_body.encode()).hexdigest()
        try:
            return _normalise(event_id, body)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GatewayRejected(f"razorpay: malformed webhook event: {exc!r}") from exc

    def _call(self, operation: Callable[..., Any], *args: Any, **options: Any) -> dict[str, Any]:
        """Every HTTP call goes through here, so each carries the timeout and the same error mapping."""
        try:
            return operation(*args, timeout=self._timeout_s, **options)
        except (
            razorpay.errors.ServerError,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.JSONDecodeError,  # an HTML error page from a proxy in front of Razorpay
        ) as exc:
            raise GatewayUnavailable(f"razorpay: {exc}") from exc
        except (razorpay.errors.BadRequestError, razorpay.errors.GatewayError) as exc:
            raise GatewayRejected(f"razorpay: {exc}") from exc


def _require_ascii(signature: object) -> None:
    """The SDK compares with ``hmac.compare_digest``, which raises TypeError on non-ASCII text."""
    if not isinstance(signature, str) or not signature or not signature.isascii():
        raise SignatureInvalid("razorpay: signature missing or malformed")


def _best_attempt(items: list[dict[str, Any]]) -> tuple[dict[str, Any], PaymentStatus]:
    """One order can see several attempts; any captured one wins, and it fails only if all failed."""
    for razorpay_status, status in (
        ("captured", PaymentStatus.CAPTURED),
        ("authorized", PaymentStatus.AUTHORIZED),
    ):
        for payment in items:
            if payment["status"] == razorpay_status:
                return payment, status
    latest = max(items, key=lambda payment: payment.get("created_at", 0))
    if all(payment["status"] == "failed" for payment in items):
        return latest, PaymentStatus.FAILED
    return latest, PaymentStatus.PENDING


def _narration(description: str | None) -> str:
    """RazorpayX rejects narrations with punctuation or over 30 characters, so trim instead of failing."""
    kept = "".join(char for char in description or "" if char.isascii() and (char.isalnum() or char == " "))
    return kept.strip()[:NARRATION_MAX].strip()


def _normalise(event_id: str, body: dict[str, Any]) -> WebhookEvent:
    """Map a verified Razorpay event onto our kinds; unknown events are IGNORED, not errors."""
    raw_type = body["event"]
    if raw_type in _PAYMENT_EVENTS:
        payment = body["payload"]["payment"]["entity"]
        kind = _PAYMENT_EVENTS[raw_type]
        return WebhookEvent(
            gateway=GatewayName.RAZORPAY,
            event_id=event_id,
            kind=kind,
            raw_type=raw_type,
            order_id=payment.get("order_id"),
            payment_id=payment["id"],
            amount_minor=payment["amount"],
            currency=payment["currency"].upper(),
            failure_reason=payment.get("error_description") if kind is EventKind.PAYMENT_FAILED else None,
            payload=body,
        )
    if raw_type in _REFUND_EVENTS:
        refund = body["payload"]["refund"]["entity"]
        return WebhookEvent(
            gateway=GatewayName.RAZORPAY,
            event_id=event_id,
            kind=_REFUND_EVENTS[raw_type],
            raw_type=raw_type,
            refund_id=refund["id"],
            payment_id=refund["payment_id"],
            amount_minor=refund["amount"],
            currency=refund["currency"].upper(),
            # Razorpay sends empty notes as [] rather than {}.
            reference=(refund.get("notes") or {}).get("reference") if isinstance(refund.get("notes"), dict) else None,
            payload=body,
        )
    if raw_type in _PAYOUT_EVENTS:
        payout = body["payload"]["payout"]["entity"]
        kind = _PAYOUT_EVENTS[raw_type]
        return WebhookEvent(
            gateway=GatewayName.RAZORPAY,
            event_id=event_id,
            kind=kind,
            raw_type=raw_type,
            payout_id=payout["id"],
            amount_minor=payout["amount"],
            currency=payout["currency"].upper(),
            failure_reason=_payout_failure(payout) if kind is not EventKind.PAYOUT_PROCESSED else None,
            reference=payout.get("reference_id"),
            payload={**body, "reference": payout.get("reference_id")},
        )
    return WebhookEvent(
        gateway=GatewayName.RAZORPAY,
        event_id=event_id,
        kind=EventKind.IGNORED,
        raw_type=raw_type,
        payload=body,
    )


def _payout_failure(payout: dict[str, Any]) -> str | None:
    """RazorpayX explains failures in ``status_details``; older payloads use ``failure_reason``."""
    details = payout.get("status_details") or {}
    return details.get("description") or payout.get("failure_reason")
