"""Razorpay adapter: orders and checkout signatures, capture, refunds, RazorpayX payouts,
disputes and webhooks.

Idempotency: refunds carry ``X-Refund-Idempotency`` and RazorpayX payouts ``X-Payout-Idempotency``
(both our reference), so a retried write returns the first result; both can also be found again
by our reference (a refund's ``receipt``, a payout's ``reference_id``). Orders are not deduped by
Razorpay: the caller keeps the order id it got and never creates a second order for a deposit
that has one. Razorpay has no API to cancel an order, so a payment can arrive after we closed a
deposit; the deposit flow treats it as late money.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import razorpay
import requests

from payments.gateways.base import (
    Confirmation,
    DisputeStatus,
    EventKind,
    GatewayName,
    GatewayRecord,
    MethodType,
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
from payments.gateways.errors import (
    GatewayRejected,
    GatewayUnavailable,
    IndefiniteAnswer,
    RefusedBeforeSending,
    SignatureInvalid,
)

CHECKOUT_URL = "https://checkout.razorpay.com/v1/checkout.js"
#: RazorpayX has no resource in the SDK; the client's generic ``post`` still authenticates it.
PAYOUTS_PATH = "/v1/payouts"
NARRATION_MAX = 30  # RazorpayX: at most 30 letters, digits and spaces
#: The largest page Razorpay's list endpoints return (``count``); a shorter page is the last one.
PAGE_SIZE = 100

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
    # One attempt failed; a Razorpay order takes further attempts, so the deposit stays open.
    "payment.failed": EventKind.PAYMENT_ATTEMPT_FAILED,
}
_DISPUTE_EVENTS = {
    "payment.dispute.created": EventKind.DISPUTE_CREATED,
    "payment.dispute.won": EventKind.DISPUTE_WON,
    "payment.dispute.lost": EventKind.DISPUTE_LOST,
    # Fraud-phase disputes closed without a decision: Razorpay deducts nothing (amount_deducted 0).
    "payment.dispute.closed": EventKind.DISPUTE_WON,
}
_DISPUTE_STATUS = {"won": DisputeStatus.WON, "closed": DisputeStatus.WON, "lost": DisputeStatus.LOST}
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
        # The SDK raises by the error code in the body, whatever the HTTP status; the status is
        # what says whether the answer is definite, so it is checked first (``_indefinite``).
        session = requests.Session()
        session.hooks["response"].append(_indefinite)
        self._client = razorpay.Client(session=session, auth=(key_id, key_secret))

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
        return self.reopen_order(order["id"], request)

    def reopen_order(self, order_id: str, request: OrderRequest) -> Order:
        """Everything checkout.js needs is the order id and our key id: no call."""
        return Order(
            gateway=self.name,
            order_id=order_id,
            amount_minor=request.amount_minor,
            currency=request.currency,
            checkout_url=CHECKOUT_URL,
            key=self._key_id,
        )

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        """Checkout's HMAC over OUR order id and the payment id proves the payment belongs to the
        order; the payment itself is then fetched, because an authorized payment is not money yet
        (manual-capture accounts): it is captured here, and only a captured payment is CAPTURED."""
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
        payment = self._call(self._client.payment.fetch, confirmation.payment_id)
        if payment.get("order_id") != order_id:
            raise SignatureInvalid("razorpay: the payment belongs to another order")
        info = _payment_info(payment, order_id)
        if info.status is PaymentStatus.AUTHORIZED:
            return self.capture_payment(confirmation.payment_id, amount_minor, currency)
        return info

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The order's best payment attempt: captured, else authorized, else the latest one (a
        failed attempt leaves the order payable: PENDING with its reason)."""
        items = self._call(self._client.order.payments, order_id, {}).get("items", [])
        if not items:
            return None
        return _payment_info(_best_attempt(items), order_id)

    def capture_payment(self, payment_id: str, amount_minor: int, currency: str) -> PaymentInfo:
        """Capture an authorized payment for exactly our amount; "already captured" and other
        refusals are answered by fetching the payment again and reporting what it is now."""
        try:
            payment = self._call(self._client.payment.capture, payment_id, amount_minor, {"currency": currency})
        except GatewayRejected:
            payment = self._call(self._client.payment.fetch, payment_id)
        return _payment_info(payment, payment.get("order_id") or "")

    def close_order(self, order_id: str) -> PaymentInfo | None:
        """Razorpay cannot cancel an order: report a capture (capturing an authorization), else
        that nothing was captured (FAILED); a later payment is late money for the caller."""
        info = self.fetch_payment(order_id)
        if info is not None and info.status is PaymentStatus.AUTHORIZED:
            info = self.capture_payment(info.payment_id, info.amount_minor, info.currency)
        if info is not None and info.status is PaymentStatus.CAPTURED:
            return info
        reason = (info.failure_reason if info else None) or "expired: no payment was completed in time"
        amount, currency = (info.amount_minor, info.currency) if info else (0, "")
        return PaymentInfo(info.payment_id if info else "", order_id, PaymentStatus.FAILED, amount, currency, reason)

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        """Refunds in the payment's own currency, idempotent on our reference (also its receipt)."""
        refund = self._call(
            self._client.payment.refund,
            payment_id,
            {"amount": amount_minor, "receipt": reference, "notes": {"reference": reference}},
            headers={"X-Refund-Idempotency": reference},
        )
        return _refund_result(refund)

    def find_refund(self, payment_id: str, reference: str) -> RefundResult | None:
        """Razorpay lists a payment's refunds; ours is the one whose receipt is our reference."""
        listed = self._call(self._client.payment.fetch_multiple_refund, payment_id, {"count": 100})
        for refund in listed.get("items", []):
            notes = refund.get("notes") if isinstance(refund.get("notes"), dict) else {}
            if reference in (refund.get("receipt"), notes.get("reference")):
                return _refund_result(refund)
        return None

    def payout(self, request: PayoutRequest) -> PayoutResult:
        """A RazorpayX payout to a fund account, deduped by Razorpay on our reference."""
        if self._payout_account_number is None:
            raise RefusedBeforeSending("razorpay: no RazorpayX account number configured for payouts")
        mode = _PAYOUT_MODES.get(request.method_type)
        if mode is None:
            raise RefusedBeforeSending(f"razorpay: no payout mode for {request.method_type}")
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
        return _payout_result(payout)

    def payout_status(self, payout_id: str) -> PayoutResult:
        """Where a payout stands, for a withdrawal whose webhook never came."""
        return _payout_result(self._call(self._client.get, f"{PAYOUTS_PATH}/{payout_id}", {}))

    def find_payout(self, reference: str, since: datetime) -> PayoutResult | None:
        """RazorpayX filters payouts by ``reference_id``: none listed means none was made."""
        if self._payout_account_number is None:
            raise RefusedBeforeSending("razorpay: no RazorpayX account number configured for payouts")
        params = {"account_number": self._payout_account_number, "reference_id": reference, "count": 100}
        items = [
            item
            for item in self._call(self._client.get, PAYOUTS_PATH, params).get("items", [])
            if item.get("reference_id") == reference
        ]
        if not items:
            return None
        # With one idempotency key there is one payout; if several ever exist, a paid one wins.
        items.sort(key=lambda item: _PAYOUT_STATUS.get(item.get("status"), "PENDING") != "PROCESSED")
        return _payout_result(items[0])

    def dispute_status(self, dispute_id: str) -> DisputeStatus:
        dispute = self._call(self._client.dispute.fetch, dispute_id)
        return _DISPUTE_STATUS.get(dispute.get("status", ""), DisputeStatus.OPEN)

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

    def settled_records(self, since: datetime, until: datetime) -> Iterator[GatewayRecord]:
        """Captured payments, processed refunds and (with a RazorpayX account) processed payouts
        created in ``[since, until)``, every page (``count``/``skip``). Razorpay's ``from``/``to``
        are inclusive epoch seconds, so the half-open range is applied again to what comes back.
        A payment that was captured and later refunded in full (status ``refunded``) was still
        captured: its refund is a record of its own."""
        window = {"from": int(since.timestamp()), "to": int(until.timestamp())}

        def within(entity: dict[str, Any]) -> bool:
            return since <= _moment(entity) < until

        for payment in self._pages(self._client.payment.all, params=window):
            status = payment.get("status")
            if within(payment) and (status == "captured" or (status == "refunded" and payment.get("captured"))):
                yield GatewayRecord(
                    RecordKind.DEPOSIT,
                    payment["id"],
                    payment["amount"],
                    payment["currency"].upper(),
                    status,
                    _moment(payment),
                    order_id=payment.get("order_id"),
                )
        for refund in self._pages(self._client.refund.all, params=window):
            if within(refund) and refund.get("status") == "processed":
                notes = refund.get("notes") if isinstance(refund.get("notes"), dict) else {}  # [] when empty
                yield GatewayRecord(
                    RecordKind.REFUND,
                    refund["id"],
                    refund["amount"],
                    refund["currency"].upper(),
                    "processed",
                    _moment(refund),
                    our_reference=notes.get("reference") or refund.get("receipt"),
                    payment_id=refund.get("payment_id"),
                )
        if self._payout_account_number is None:
            return  # no RazorpayX account: no payout can have been made through this adapter
        params = {"account_number": self._payout_account_number, **window}
        for payout in self._pages(self._client.get, PAYOUTS_PATH, params=params):
            # A reversed payout came back: no money left in the end, like one that failed.
            if within(payout) and payout.get("status") == "processed":
                yield GatewayRecord(
                    RecordKind.PAYOUT,
                    payout["id"],
                    payout["amount"],
                    payout["currency"].upper(),
                    "processed",
                    _moment(payout),
                    our_reference=payout.get("reference_id"),
                )

    def _pages(self, operation: Callable[..., Any], *args: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a Razorpay collection, a page at a time."""
        skip = 0
        while True:
            items = self._call(operation, *args, {**params, "count": PAGE_SIZE, "skip": skip}).get("items", [])
            yield from items
            if len(items) < PAGE_SIZE:
                return
            skip += len(items)

    def _call(self, operation: Callable[..., Any], *args: Any, **options: Any) -> dict[str, Any]:
        """Every HTTP call goes through here, so each carries the timeout and the same mapping to
        the three outcomes: an answer, a definite no (GatewayRejected), or unknown (Unavailable)."""
        try:
            return operation(*args, timeout=self._timeout_s, **options)
        except (
            IndefiniteAnswer,
            razorpay.errors.ServerError,
            razorpay.errors.GatewayError,  # "GATEWAY_ERROR": the bank or network behind Razorpay failed
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.JSONDecodeError,  # an HTML error page from a proxy in front of Razorpay
        ) as exc:
            raise GatewayUnavailable(f"razorpay: {exc}") from exc
        except razorpay.errors.BadRequestError as exc:
            if "idempotency" in str(exc).lower():
                # "still in progress" or "already processed with another request": the first
                # request under our key exists, and its outcome is not this answer.
                raise GatewayUnavailable(f"razorpay: {exc}") from exc
            raise GatewayRejected(f"razorpay: {exc}") from exc


def _indefinite(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """5xx and 429 do not say whether the request was acted on; 401 and 403 refuse our own
    credentials (Razorpay labels them BAD_REQUEST_ERROR): the deployment's fault, not a no."""
    if response.status_code >= 500 or response.status_code in (401, 403, 429):
        raise IndefiniteAnswer(f"HTTP {response.status_code} from {response.request.path_url.split('?')[0]}")
    return response


def _moment(entity: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(entity["created_at"]), UTC)


def _require_ascii(signature: object) -> None:
    """The SDK compares with ``hmac.compare_digest``, which raises TypeError on non-ASCII text."""
    if not isinstance(signature, str) or not signature or not signature.isascii():
        raise SignatureInvalid("razorpay: signature missing or malformed")


def _best_attempt(items: list[dict[str, Any]]) -> dict[str, Any]:
    """One order can see several attempts: a captured one wins, then an authorized one, then the
    latest."""
    for wanted in ("captured", "authorized"):
        for payment in items:
            if payment["status"] == wanted:
                return payment
    return max(items, key=lambda payment: payment.get("created_at", 0))


def _payment_info(payment: dict[str, Any], order_id: str) -> PaymentInfo:
    """A payment entity -> where our deposit stands. Only ``captured`` is money (a ``refunded``
    payment that was never captured is Razorpay's auto-refund of an uncaptured authorization)."""
    razorpay_status = payment["status"]
    if razorpay_status == "captured" or (razorpay_status == "refunded" and payment.get("captured")):
        status = PaymentStatus.CAPTURED
    elif razorpay_status == "authorized":
        status = PaymentStatus.AUTHORIZED
    else:
        status = PaymentStatus.PENDING  # created, failed or auto-refunded: the order is still payable
    return PaymentInfo(
        payment_id=payment["id"],
        order_id=order_id or payment.get("order_id") or "",
        status=status,
        amount_minor=payment["amount"],
        currency=payment["currency"].upper(),
        failure_reason=payment.get("error_description") if razorpay_status == "failed" else None,
    )


def _refund_result(refund: dict[str, Any]) -> RefundResult:
    return RefundResult(
        refund_id=refund["id"],
        status=_REFUND_STATUS.get(refund.get("status"), "PENDING"),
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


def _narration(description: str | None) -> str:
    """RazorpayX rejects narrations with punctuation or over 30 characters, so trim instead of failing."""
    kept = "".join(char for char in description or "" if char.isascii() and (char.isalnum() or char == " "))
    return kept.strip()[:NARRATION_MAX].strip()


def _normalise(event_id: str, body: dict[str, Any]) -> WebhookEvent:
    """Map a verified Razorpay event onto our kinds; unknown events are IGNORED, not errors."""
    raw_type = body["event"]
    common: dict[str, Any] = {
        "gateway": GatewayName.RAZORPAY,
        "event_id": event_id,
        "raw_type": raw_type,
        "occurred_at": body.get("created_at"),
        "payload": body,
    }
    if raw_type in _PAYMENT_EVENTS:
        payment = body["payload"]["payment"]["entity"]
        kind = _PAYMENT_EVENTS[raw_type]
        return WebhookEvent(
            kind=kind,
            order_id=payment.get("order_id"),
            payment_id=payment["id"],
            amount_minor=payment["amount"],
            currency=payment["currency"].upper(),
            failure_reason=payment.get("error_description") if kind is EventKind.PAYMENT_ATTEMPT_FAILED else None,
            **common,
        )
    if raw_type in _REFUND_EVENTS:
        refund = body["payload"]["refund"]["entity"]
        notes = refund.get("notes") if isinstance(refund.get("notes"), dict) else {}  # [] when empty
        return WebhookEvent(
            kind=_REFUND_EVENTS[raw_type],
            refund_id=refund["id"],
            payment_id=refund["payment_id"],
            amount_minor=refund["amount"],
            currency=refund["currency"].upper(),
            reference=notes.get("reference") or refund.get("receipt"),
            **common,
        )
    if raw_type in _PAYOUT_EVENTS:
        payout = body["payload"]["payout"]["entity"]
        kind = _PAYOUT_EVENTS[raw_type]
        return WebhookEvent(
            kind=kind,
            payout_id=payout["id"],
            amount_minor=payout["amount"],
            currency=payout["currency"].upper(),
            failure_reason=_payout_failure(payout) if kind is not EventKind.PAYOUT_PROCESSED else None,
            reference=payout.get("reference_id"),
            **{**common, "payload": {**body, "reference": payout.get("reference_id")}},
        )
    if raw_type in _DISPUTE_EVENTS:
        dispute = body["payload"]["dispute"]["entity"]
        payment = (body["payload"].get("payment") or {}).get("entity") or {}
        return WebhookEvent(
            kind=_DISPUTE_EVENTS[raw_type],
            dispute_id=dispute["id"],
            payment_id=dispute.get("payment_id"),
            order_id=payment.get("order_id"),
            amount_minor=dispute["amount"],
            currency=dispute["currency"].upper(),
            **common,
        )
    return WebhookEvent(kind=EventKind.IGNORED, **common)


def _payout_failure(payout: dict[str, Any]) -> str | None:
    """RazorpayX explains failures in ``status_details``; older payloads use ``failure_reason``."""
    details = payout.get("status_details") or {}
    return details.get("description") or payout.get("failure_reason")
