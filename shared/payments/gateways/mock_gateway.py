"""The Mock gateway: a complete gateway for local runs, tests and dev stacks, with no network.

It keeps orders, payments, refunds and payouts in the ops table, signs the way Razorpay does
(payment signature ``HMAC_SHA256(key_secret, "order_id|payment_id")``, webhook signature over the
raw body), and delivers signed webhooks to the ``/webhooks/mock`` function after each payment,
refund and payout. Outcomes are chosen by the payment method's token, like Stripe test tokens:

==========================  =====================================================================
token                       outcome
==========================  =====================================================================
``tok_mock_success``        payments capture, refunds and payouts succeed (also: no token)
``tok_mock_decline``        the payment is declined (``payment.failed``)
``tok_mock_timeout``        creating the order times out (the gateway is "down": failover)
``tok_mock_payout_fail``    payouts fail (``payout.failed``)
``tok_mock_no_webhook``     payments capture but send no webhook; payouts are dropped silently
``tok_mock_payout_stuck``   payouts stay pending at the gateway forever (the saga's manual review)
``tok_mock_refund_fail``    refunds fail (``refund.failed``)
==========================  =====================================================================
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from payments.core.clock import utcnow
from payments.core.ids import new_ulid
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


def _stable_id(prefix: str, reference: str) -> str:
    """The same reference always names the same object: a retried call cannot create a second."""
    return f"{prefix}_{hashlib.sha256(reference.encode()).hexdigest()[:20]}"


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
        order_id = _stable_id("order_mock", request.reference)
        order = MockGatewayItem(
            f"MOCK#{order_id}",
            kind="ORDER",
            amount=request.amount_minor,
            currency=request.currency,
            status="CREATED",
            outcome=outcome,
            reference=request.reference,
            order_id=order_id,
            created_at=utcnow(),
            expires_at=timedelta(seconds=_RETENTION_S),
        )
        if not _save_new(order):
            order = MockGatewayItem.get(f"MOCK#{order_id}")
        return Order(
            gateway=self.name,
            order_id=order_id,
            amount_minor=order.amount,
            currency=order.currency,
            checkout_url=f"{self._checkout_base_url}/mock-gateway/checkout/{order_id}",
            key=self._key_id,
        )

    def order(self, order_id: str) -> MockGatewayItem:
        try:
            return MockGatewayItem.get(f"MOCK#{order_id}", consistent_read=True)
        except MockGatewayItem.DoesNotExist:
            raise GatewayRejected(f"no such mock order {order_id}") from None

    def pay(self, order_id: str, decline: bool = False) -> dict[str, Any]:
        """What the hosted checkout does when the person presses Pay (or Decline). Paying twice
        returns the first payment, like a gateway would."""
        order = self.order(order_id)
        if order.payment_id:
            return self._payment_result(order)
        failed = decline or order.outcome == "decline"
        payment_id = f"pay_mock_{new_ulid().lower()}"
        order.update(
            actions=[
                MockGatewayItem.payment_id.set(payment_id),
                MockGatewayItem.status.set("FAILED" if failed else "CAPTURED"),
                MockGatewayItem.failure_reason.set("Payment declined by the customer or bank" if failed else None),
            ],
            condition=MockGatewayItem.payment_id.does_not_exist(),
        )
        MockGatewayItem(
            f"MOCK#{payment_id}",
            kind="PAYMENT",
            amount=order.amount,
            currency=order.currency,
            status=order.status,
            outcome=order.outcome,
            reference=order.reference,
            order_id=order_id,
            payment_id=payment_id,
            created_at=utcnow(),
            expires_at=timedelta(seconds=_RETENTION_S),
        ).save()
        result = self._payment_result(order)
        if order.outcome != "no_webhook":
            entity = {
                "id": payment_id,
                "order_id": order_id,
                "amount": order.amount,
                "currency": order.currency,
                "status": "failed" if failed else "captured",
                "error_description": order.failure_reason,
            }
            self._emit("payment.failed" if failed else "payment.captured", "payment", entity)
        return result

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
        return PaymentInfo(confirmation.payment_id, order_id, PaymentStatus.CAPTURED, amount_minor, currency)

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        order = self.order(order_id)
        if not order.payment_id:
            return None
        status = PaymentStatus.CAPTURED if order.status == "CAPTURED" else PaymentStatus.FAILED
        return PaymentInfo(order.payment_id, order_id, status, order.amount, order.currency, order.failure_reason)

    # ------------------------------------------------------------------ refunds and payouts
    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult:
        refund_id = _stable_id("rfnd_mock", reference)
        outcome = self._outcome_of_payment(payment_id)
        record = MockGatewayItem(
            f"MOCK#{refund_id}",
            kind="REFUND",
            amount=amount_minor,
            currency=currency,
            status="FAILED" if outcome == "refund_fail" else "PROCESSED",
            outcome=outcome,
            reference=reference,
            payment_id=payment_id,
            created_at=utcnow(),
            expires_at=timedelta(seconds=_RETENTION_S),
        )
        if _save_new(record):
            entity = {
                "id": refund_id,
                "payment_id": payment_id,
                "amount": amount_minor,
                "currency": currency,
                "notes": {"reference": reference},
            }
            self._emit("refund.failed" if record.status == "FAILED" else "refund.processed", "refund", entity)
        return RefundResult(refund_id, "PENDING", amount_minor)

    def _outcome_of_payment(self, payment_id: str) -> str:
        try:
            return MockGatewayItem.get(f"MOCK#{payment_id}", consistent_read=True).outcome
        except MockGatewayItem.DoesNotExist:
            raise GatewayRejected(f"no such mock payment {payment_id}") from None

    def payout_status(self, payout_id: str) -> PayoutResult:
        try:
            record = MockGatewayItem.get(f"MOCK#{payout_id}", consistent_read=True)
        except MockGatewayItem.DoesNotExist:
            raise GatewayRejected(f"no such mock payout {payout_id}") from None
        return PayoutResult(payout_id, record.status)

    def payout(self, request: PayoutRequest) -> PayoutResult:
        payout_id = _stable_id("pout_mock", request.reference)
        outcome = _outcome(request.destination_token)
        record = MockGatewayItem(
            f"MOCK#{payout_id}",
            kind="PAYOUT",
            amount=request.amount_minor,
            currency=request.currency,
            status={"payout_fail": "FAILED", "no_webhook": "FAILED", "payout_stuck": "PENDING"}.get(
                outcome, "PROCESSED"
            ),
            outcome=outcome,
            reference=request.reference,
            created_at=utcnow(),
            expires_at=timedelta(seconds=_RETENTION_S),
        )
        if _save_new(record) and outcome not in ("no_webhook", "payout_stuck"):
            failed = record.status == "FAILED"
            entity = {
                "id": payout_id,
                "amount": request.amount_minor,
                "currency": request.currency,
                "reference_id": request.reference,
                "status": "failed" if failed else "processed",
                "failure_reason": "Beneficiary bank rejected the transfer" if failed else None,
            }
            self._emit("payout.failed" if failed else "payout.processed", "payout", entity)
        return PayoutResult(payout_id, "PROCESSING")

    # ------------------------------------------------------------------ webhooks
    def _emit(self, event_type: str, entity_name: str, entity: dict[str, Any]) -> None:
        if self._send_webhook is None:
            return
        body = json.dumps(
            {
                "entity": "event",
                "account_id": "acc_mock",
                "event": event_type,
                "contains": [entity_name],
                "payload": {entity_name: {"entity": entity}},
                "created_at": int(time.time()),
            }
        )
        headers = {
            "Content-Type": "application/json",
            "X-Mock-Signature": sign(self._webhook_secret, body),
            "X-Mock-Event-Id": f"evt_mock_{new_ulid().lower()}",
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
        except (ValueError, KeyError, TypeError):
            raise GatewayRejected("malformed mock webhook") from None
        event_id = lowered.get(EVENT_ID_HEADER) or hashlib.sha256(raw_body.encode()).hexdigest()
        kind = _EVENT_KINDS.get(raw_type, EventKind.IGNORED)
        entity = next(iter(body.get("payload", {}).values()), {}).get("entity", {})
        ids: dict[str, Any] = {}
        if raw_type.startswith("payment."):
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
            payload=body,
            **ids,
        )


_EVENT_KINDS = {
    "payment.captured": EventKind.PAYMENT_CAPTURED,
    "payment.failed": EventKind.PAYMENT_FAILED,
    "refund.processed": EventKind.REFUND_PROCESSED,
    "refund.failed": EventKind.REFUND_FAILED,
    "payout.processed": EventKind.PAYOUT_PROCESSED,
    "payout.failed": EventKind.PAYOUT_FAILED,
    "payout.reversed": EventKind.PAYOUT_REVERSED,
}


def _outcome(token: str | None) -> str:
    if token is None:
        return "succeed"
    if token not in OUTCOMES:
        raise GatewayRejected(f"unknown mock token; use one of {', '.join(OUTCOMES)}")
    return OUTCOMES[token]


def _save_new(item: MockGatewayItem) -> bool:
    from pynamodb.exceptions import PutError

    try:
        item.save(condition=MockGatewayItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
