"""The Mock gateway: a complete gateway for local runs, tests and dev stacks, with no network.

It keeps orders, payments, refunds, payouts and disputes in the ops table (``MOCK#<id>``), signs
the way Razorpay does (payment signature ``HMAC_SHA256(key_secret, "order_id|payment_id")``,
webhook signature over the raw body), and delivers signed webhooks to the ``/webhooks/mock``
function after each change. Its store is the ground truth the fault sweep checks wallets
against: what the gateway really captured, refunded, paid out and lost in disputes.

Outcomes are chosen by the payment method's token, like Stripe test tokens:

==========================  =====================================================================
token                       outcome
==========================  =====================================================================
``tok_mock_success``        payments capture, refunds and payouts succeed (also: no token)
``tok_mock_decline``        the payment is declined (``payment.failed``; a Mock order takes one
                            attempt, so it is closed)
``tok_mock_timeout``        creating the order times out (the gateway is "down": failover)
``tok_mock_payout_fail``    payouts fail (``payout.failed``)
``tok_mock_no_webhook``     payments capture but send no webhook; payouts are dropped silently
``tok_mock_payout_stuck``   payouts stay pending at the gateway forever (the saga's manual review)
``tok_mock_refund_fail``    refunds fail (``refund.failed``)
==========================  =====================================================================

What a real gateway does later is done by the operator methods :meth:`MockGateway.open_dispute`,
:meth:`~MockGateway.close_dispute`, :meth:`~MockGateway.fail_refund` (a refund failing after it
succeeded, as Stripe's can) and :meth:`~MockGateway.reverse_payout`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from payments.core.clock import epoch_seconds, utcnow
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
from payments.store.ops_table import MockGatewayItem

OUTCOMES = {
    "tok_mock_success": "succeed",
    "tok_mock_decline": "decline",
    "tok_mock_timeout": "timeout",
    "tok_mock_payout_fail": "payout_fail",
    "tok_mock_no_webhook": "no_webhook",
    "tok_mock_refund_fail": "refund_fail",
    "tok_mock_payout_stuck": "payout_stuck",
}
SIGNATURE_HEADER = "x-mock-signature"
EVENT_ID_HEADER = "x-mock-event-id"
_RETENTION_S = 30 * 24 * 3600

WebhookSender = Callable[[str, dict[str, str]], None]


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _verifies(secret: str, message: str, signature: str) -> bool:
    """A signature verifies only under a configured secret (an empty HMAC key is anybody's), and
    only when it is ASCII (``compare_digest`` raises on other text instead of answering no)."""
    if not secret or not signature or not signature.isascii():
        return False
    return hmac.compare_digest(signature, sign(secret, message))


def stable_id(prefix: str, reference: str) -> str:
    """The same reference always names the same object: a retried call cannot create a second.
    Base32, so ids carry no long digit runs a card-number scan could mistake."""
    digest = base64.b32encode(hashlib.sha256(reference.encode()).digest()).decode().lower()
    return f"{prefix}_{digest[:24]}"


class MockGateway:
    name = GatewayName.MOCK

    def __init__(
        self,
        key_id: str,
        key_secret: str,
        webhook_secret: str,
        checkout_base_url: str,
        send_webhook: WebhookSender | None = None,
    ) -> None:
        self._key_id = key_id
        self._key_secret = key_secret
        self._webhook_secret = webhook_secret
        self._checkout_base_url = checkout_base_url.rstrip("/")
        self._send_webhook = send_webhook

    # ------------------------------------------------------------------ orders and payments
    def create_order(self, request: OrderRequest) -> Order:
        outcome = _outcome(request.method_token)
        if outcome == "timeout":
            raise GatewayUnavailable("mock gateway timed out")
        order_id = stable_id("order_mock", request.reference)
        order = _new_item(
            order_id,
            kind="ORDER",
            amount=request.amount_minor,
            currency=request.currency,
            status="CREATED",
            outcome=outcome,
            reference=request.reference,
            customer=request.customer_id,
            order_id=order_id,
        )
        if not _save_new(order):
            order = self.order(order_id)
        return self._order(order)

    def reopen_order(self, order_id: str, request: OrderRequest) -> Order:
        return self._order(self.order(order_id))

    def _order(self, order: MockGatewayItem) -> Order:
        return Order(
            gateway=self.name,
            order_id=order.order_id or "",
            amount_minor=order.amount,
            currency=order.currency,
            checkout_url=f"{self._checkout_base_url}/mock-gateway/checkout/{order.order_id}",
            key=self._key_id,
        )

    def order(self, order_id: str) -> MockGatewayItem:
        return _get(order_id, "order")

    def pay(self, order_id: str, decline: bool = False) -> dict[str, Any]:
        """What the hosted checkout does when the person presses Pay (or Decline). Paying twice
        returns the first payment; a cancelled order cannot be paid."""
        order = self.order(order_id)
        if order.payment_id:
            return self._payment_result(order)
        if order.status != "CREATED":
            raise GatewayRejected(f"mock order {order_id} is {order.status.lower()} and cannot be paid")
        failed = decline or order.outcome == "decline"
        payment_id = stable_id("pay_mock", order_id)
        try:
            order.update(
                actions=[
                    MockGatewayItem.payment_id.set(payment_id),
                    MockGatewayItem.status.set("FAILED" if failed else "CAPTURED"),
                    MockGatewayItem.failure_reason.set("Payment declined by the customer or bank" if failed else None),
                ],
                condition=MockGatewayItem.payment_id.does_not_exist() & (MockGatewayItem.status == "CREATED"),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return self.pay(order_id, decline)  # cancelled or paid meanwhile: answer what it is now
        _new_item(
            payment_id,
            kind="PAYMENT",
            amount=order.amount,
            currency=order.currency,
            status=order.status,
            outcome=order.outcome,
            reference=order.reference,
            customer=order.customer,
            order_id=order_id,
            payment_id=payment_id,
            refunded=0,
        ).save()
        if order.outcome != "no_webhook":
            entity = {
                "id": payment_id,
                "order_id": order_id,
                "amount": order.amount,
                "currency": order.currency,
                "status": "failed" if failed else "captured",
                "error_description": order.failure_reason,
            }
            self._emit("payment.failed" if failed else "payment.captured", {"payment": entity})
        return self._payment_result(order)

    def _payment_result(self, order: MockGatewayItem) -> dict[str, Any]:
        captured = order.status == "CAPTURED"
        return {
            "order_id": order.order_id,
            "payment_id": order.payment_id,
            "status": order.status,
            "signature": sign(self._key_secret, f"{order.order_id}|{order.payment_id}") if captured else None,
            "failure_reason": order.failure_reason,
        }

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        claimed_order = confirmation.data.get("mock_order_id") or confirmation.data.get("order_id") or order_id
        signature = str(confirmation.data.get("mock_signature") or confirmation.data.get("signature") or "")
        if claimed_order != order_id or not _verifies(
            self._key_secret, f"{order_id}|{confirmation.payment_id}", signature
        ):
            raise SignatureInvalid("mock payment signature does not verify")
        info = self.fetch_payment(order_id)
        if info is None or info.payment_id != confirmation.payment_id:
            raise SignatureInvalid("mock payment does not belong to the order")
        return info

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        order = self.order(order_id)
        if order.status == "CANCELLED":
            return PaymentInfo("", order_id, PaymentStatus.FAILED, order.amount, order.currency, "order cancelled")
        if not order.payment_id:
            return None
        status = PaymentStatus.CAPTURED if order.status == "CAPTURED" else PaymentStatus.FAILED
        return PaymentInfo(order.payment_id, order_id, status, order.amount, order.currency, order.failure_reason)

    def capture_payment(self, payment_id: str, amount_minor: int, currency: str) -> PaymentInfo:
        """Mock payments capture at once: report the payment's order."""
        info = self.fetch_payment(_get(payment_id, "payment").order_id or "")
        if info is None:
            raise GatewayRejected(f"mock payment {payment_id} has no order")
        return info

    def close_order(self, order_id: str) -> PaymentInfo | None:
        """Cancel an unpaid order (it can never be paid after); report a paid one as it is."""
        order = self.order(order_id)
        try:
            order.update(
                actions=[MockGatewayItem.status.set("CANCELLED")],
                condition=(MockGatewayItem.status == "CREATED") & MockGatewayItem.payment_id.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        return self.fetch_payment(order_id)

    # ------------------------------------------------------------------ refunds
    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        refund_id = stable_id("rfnd_mock", reference)
        existing = self._find(refund_id)
        if existing is not None:
            return _refund_result(existing)
        payment = _get(payment_id, "payment")
        if payment.status != "CAPTURED":
            raise GatewayRejected(f"mock payment {payment_id} was not captured")
        if currency != payment.currency or amount_minor > payment.amount - (payment.refunded or 0):
            raise GatewayRejected("mock refund exceeds what the payment can still refund")
        failed = payment.outcome == "refund_fail"
        record = _new_item(
            refund_id,
            kind="REFUND",
            amount=amount_minor,
            currency=currency,
            status="FAILED" if failed else "PROCESSED",
            outcome=payment.outcome,
            reference=reference,
            customer=payment.customer,
            payment_id=payment_id,
            order_id=payment.order_id,
        )
        if not _save_new(record):
            return _refund_result(_get(refund_id, "refund"))
        if not failed:
            payment.update(actions=[MockGatewayItem.refunded.add(amount_minor)])
        self._emit_refund(record)
        return _refund_result(record)

    def find_refund(self, payment_id: str, reference: str) -> RefundResult | None:
        record = self._find(stable_id("rfnd_mock", reference))
        return _refund_result(record) if record is not None and record.payment_id == payment_id else None

    def fail_refund(self, refund_id: str) -> None:
        """Operator: a processed refund fails later (the card was closed); its money returns."""
        record = _get(refund_id, "refund")
        record.update(actions=[MockGatewayItem.status.set("FAILED")], condition=MockGatewayItem.status == "PROCESSED")
        _get(record.payment_id or "", "payment").update(actions=[MockGatewayItem.refunded.add(-record.amount)])
        self._emit_refund(record)

    def _emit_refund(self, record: MockGatewayItem) -> None:
        entity = {
            "id": record.pk.removeprefix("MOCK#"),
            "payment_id": record.payment_id,
            "amount": record.amount,
            "currency": record.currency,
            "notes": {"reference": record.reference},
            "status": record.status.lower(),
        }
        self._emit("refund.failed" if record.status == "FAILED" else "refund.processed", {"refund": entity})

    # ------------------------------------------------------------------ payouts
    def payout(self, request: PayoutRequest) -> PayoutResult:
        payout_id = stable_id("pout_mock", request.reference)
        outcome = _outcome(request.destination_token)
        record = _new_item(
            payout_id,
            kind="PAYOUT",
            amount=request.amount_minor,
            currency=request.currency,
            status={"payout_fail": "FAILED", "no_webhook": "FAILED", "payout_stuck": "PENDING"}.get(
                outcome, "PROCESSED"
            ),
            outcome=outcome,
            reference=request.reference,
            customer=request.customer_id,
        )
        if _save_new(record) and outcome not in ("no_webhook", "payout_stuck"):
            self._emit_payout(record)
        return PayoutResult(payout_id, "PROCESSING", request.amount_minor, request.currency)

    def payout_status(self, payout_id: str) -> PayoutResult:
        return _payout_result(_get(payout_id, "payout"))

    def find_payout(self, reference: str, since: datetime) -> PayoutResult | None:
        record = self._find(stable_id("pout_mock", reference))
        return _payout_result(record) if record is not None else None

    def reverse_payout(self, payout_id: str) -> None:
        """Operator: a paid-out transfer bounces back from the beneficiary's bank."""
        record = _get(payout_id, "payout")
        record.update(actions=[MockGatewayItem.status.set("REVERSED")], condition=MockGatewayItem.status == "PROCESSED")
        self._emit_payout(record)

    def _emit_payout(self, record: MockGatewayItem) -> None:
        event = {"PROCESSED": "payout.processed", "FAILED": "payout.failed", "REVERSED": "payout.reversed"}
        entity = {
            "id": record.pk.removeprefix("MOCK#"),
            "amount": record.amount,
            "currency": record.currency,
            "reference_id": record.reference,
            "status": record.status.lower(),
            "failure_reason": "Beneficiary bank rejected the transfer" if record.status != "PROCESSED" else None,
        }
        self._emit(event[record.status], {"payout": entity})

    # ------------------------------------------------------------------ disputes
    def open_dispute(self, payment_id: str, amount_minor: int | None = None) -> str:
        """Operator: the card holder disputes a captured payment (once per payment)."""
        payment = _get(payment_id, "payment")
        dispute_id = stable_id("disp_mock", payment_id)
        record = _new_item(
            dispute_id,
            kind="DISPUTE",
            amount=amount_minor if amount_minor is not None else payment.amount,
            currency=payment.currency,
            status="OPEN",
            outcome=payment.outcome,
            reference=payment.reference,
            customer=payment.customer,
            payment_id=payment_id,
            order_id=payment.order_id,
        )
        if _save_new(record):
            self._emit_dispute(record, "payment.dispute.created")
        return dispute_id

    def close_dispute(self, dispute_id: str, won: bool) -> None:
        """Operator: the network decides (lost: the disputed amount is taken from the merchant)."""
        record = _get(dispute_id, "dispute")
        status = "WON" if won else "LOST"
        record.update(actions=[MockGatewayItem.status.set(status)], condition=MockGatewayItem.status == "OPEN")
        self._emit_dispute(record, f"payment.dispute.{status.lower()}")

    def dispute_status(self, dispute_id: str) -> DisputeStatus:
        return DisputeStatus(_get(dispute_id, "dispute").status)

    def _emit_dispute(self, record: MockGatewayItem, event: str) -> None:
        payment = {"id": record.payment_id, "order_id": record.order_id, "amount": record.amount}
        dispute = {
            "id": record.pk.removeprefix("MOCK#"),
            "payment_id": record.payment_id,
            "amount": record.amount,
            "currency": record.currency,
            "status": record.status.lower(),
        }
        self._emit(event, {"payment": {**payment, "currency": record.currency}, "dispute": dispute})

    # ------------------------------------------------------------------ listing
    def settled_records(self, since: datetime, until: datetime) -> Iterator[GatewayRecord]:
        """Payments captured, refunds processed and payouts processed (not reversed) that the
        Mock recorded in ``[since, until)``. Its store is its API: a paged Scan of the ops table
        filtered to its items, fine for the local stack and dev stacks it serves."""
        condition = (
            MockGatewayItem.pk.startswith("MOCK#")
            & MockGatewayItem.kind.is_in(*_SETTLED)
            & (MockGatewayItem.created_at >= since)
            & (MockGatewayItem.created_at < until)
        )
        for record in MockGatewayItem.scan(condition, page_size=500):
            kind, settled = _SETTLED[record.kind]
            if record.status != settled:
                continue
            yield GatewayRecord(
                kind,
                record.pk.removeprefix("MOCK#"),
                record.amount,
                record.currency,
                record.status.lower(),
                record.created_at,
                our_reference=record.reference,
                order_id=record.order_id,
                payment_id=record.payment_id if kind is RecordKind.REFUND else None,
            )

    # ------------------------------------------------------------------ webhooks
    def _emit(self, event_type: str, entities: dict[str, dict[str, Any]]) -> None:
        if self._send_webhook is None:
            return
        created = int(epoch_seconds())
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_mock",
                "event": event_type,
                "contains": list(entities),
                "payload": {name: {"entity": entity} for name, entity in entities.items()},
                "created_at": created,
            }
        )
        digest = base64.b32encode(hashlib.sha256(body.encode()).digest()).decode().lower()[:26]
        headers = {
            "Content-Type": "application/json",
            "X-Mock-Signature": sign(self._webhook_secret, body),
            "X-Mock-Event-Id": f"evt_mock_{digest}",
        }
        self._send_webhook(body, headers)

    def parse_webhook(self, raw_body: str, headers: Mapping[str, str]) -> WebhookEvent:
        lowered = {key.lower(): value for key, value in headers.items()}
        signature = lowered.get(SIGNATURE_HEADER, "")
        if not _verifies(self._webhook_secret, raw_body, signature):
            raise SignatureInvalid("mock webhook signature does not verify")
        try:
            body = json.loads(raw_body)
            raw_type = str(body["event"])
            payload = body.get("payload") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise GatewayRejected("malformed mock webhook") from None
        event_id = lowered.get(EVENT_ID_HEADER) or hashlib.sha256(raw_body.encode()).hexdigest()
        kind = _EVENT_KINDS.get(raw_type, EventKind.IGNORED)
        main = "dispute" if raw_type.startswith("payment.dispute.") else raw_type.partition(".")[0]
        entity = (payload.get(main) or next(iter(payload.values()), {}) or {}).get("entity", {})
        ids: dict[str, Any] = {}
        if raw_type.startswith("payment.dispute."):
            order = ((payload.get("payment") or {}).get("entity") or {}).get("order_id")
            ids = {"dispute_id": entity.get("id"), "payment_id": entity.get("payment_id"), "order_id": order}
        elif raw_type.startswith("payment."):
            ids = {"order_id": entity.get("order_id"), "payment_id": entity.get("id")}
        elif raw_type.startswith("refund."):
            reference = (entity.get("notes") or {}).get("reference")
            ids = {"refund_id": entity.get("id"), "payment_id": entity.get("payment_id"), "reference": reference}
        elif raw_type.startswith("payout."):
            ids = {"payout_id": entity.get("id"), "reference": entity.get("reference_id")}
        return WebhookEvent(
            gateway=self.name,
            event_id=event_id,
            kind=kind,
            raw_type=raw_type,
            amount_minor=entity.get("amount"),
            currency=entity.get("currency"),
            failure_reason=entity.get("error_description") or entity.get("failure_reason"),
            occurred_at=body.get("created_at"),
            payload=body,
            **ids,
        )

    # ------------------------------------------------------------------ store
    def _find(self, object_id: str) -> MockGatewayItem | None:
        try:
            return MockGatewayItem.get(f"MOCK#{object_id}", consistent_read=True)
        except MockGatewayItem.DoesNotExist:
            return None


_EVENT_KINDS = {
    "payment.captured": EventKind.PAYMENT_CAPTURED,
    "payment.failed": EventKind.PAYMENT_FAILED,  # a Mock order takes one attempt: it is closed
    "refund.processed": EventKind.REFUND_PROCESSED,
    "refund.failed": EventKind.REFUND_FAILED,
    "payout.processed": EventKind.PAYOUT_PROCESSED,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.reversed": EventKind.PAYOUT_REVERSED,
    "payment.dispute.created": EventKind.DISPUTE_CREATED,
    "payment.dispute.won": EventKind.DISPUTE_WON,
    "payment.dispute.lost": EventKind.DISPUTE_LOST,
}


#: The Mock's kinds of items that are money, and the status in which they moved it.
_SETTLED = {
    "PAYMENT": (RecordKind.DEPOSIT, "CAPTURED"),
    "REFUND": (RecordKind.REFUND, "PROCESSED"),
    "PAYOUT": (RecordKind.PAYOUT, "PROCESSED"),
}


def _outcome(token: str | None) -> str:
    if token is None:
        return "succeed"
    if token not in OUTCOMES:
        raise GatewayRejected(f"unknown mock token; use one of {', '.join(OUTCOMES)}")
    return OUTCOMES[token]


def _new_item(object_id: str, **attributes: Any) -> MockGatewayItem:
    return MockGatewayItem(
        f"MOCK#{object_id}", created_at=utcnow(), expires_at=timedelta(seconds=_RETENTION_S), **attributes
    )


def _get(object_id: str, what: str) -> MockGatewayItem:
    try:
        return MockGatewayItem.get(f"MOCK#{object_id}", consistent_read=True)
    except MockGatewayItem.DoesNotExist:
        raise GatewayRejected(f"no such mock {what} {object_id}") from None


def _save_new(item: MockGatewayItem) -> bool:
    try:
        item.save(condition=MockGatewayItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _refund_result(record: MockGatewayItem) -> RefundResult:
    return RefundResult(record.pk.removeprefix("MOCK#"), record.status, record.amount, record.currency)


def _payout_result(record: MockGatewayItem) -> PayoutResult:
    status = "FAILED" if record.status == "REVERSED" else record.status
    return PayoutResult(record.pk.removeprefix("MOCK#"), status, record.amount, record.currency)
