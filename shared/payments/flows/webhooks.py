"""Gateway webhooks: verify the signature on the raw body first, then (optionally) the source IP,
then record the event once by its id and apply it through the same path as confirm.

The event record and the money movement it causes are one DynamoDB transaction, so a replayed
event is refused by its record and can never credit twice, and a crash between "seen" and
"applied" cannot happen. Events we do not act on are still recorded (the spec's PaymentWebhook)
and answered 2xx at once, so the gateway stops retrying them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import PutError

from payments.core.clock import utcnow
from payments.flows import deposits
from payments.flows.errors import SourceNotAllowed, WebhookRefused
from payments.gateways.base import EventKind, PaymentGateway, PaymentInfo, PaymentStatus, WebhookEvent
from payments.gateways.errors import GatewayRejected, SignatureInvalid
from payments.guards import rate_limits
from payments.ledger.errors import DuplicateRecord
from payments.ledger.writer import ExtraPut
from payments.platform.observability import logger, metrics
from payments.platform.settings import Settings
from payments.store.ledger_table import find_by_order
from payments.store.ops_table import WebhookEventItem

RETENTION_S = 90 * 24 * 3600
_PAYOUT_OUTCOME = {
    EventKind.PAYOUT_PROCESSED: "processed",
    EventKind.PAYOUT_FAILED: "failed",
    EventKind.PAYOUT_REVERSED: "reversed",
}
_PAYMENT_STATUS = {
    EventKind.PAYMENT_CAPTURED: PaymentStatus.CAPTURED,
    EventKind.PAYMENT_FAILED: PaymentStatus.FAILED,
}


@dataclass(frozen=True)
class WebhookResult:
    """What a verified event did: ``outcome`` names it (``credited``, ``duplicate``, ...)."""

    event_id: str
    outcome: str
    transaction_id: str | None


def _allowed(gateway: str, source_ip: str | None) -> bool:
    """``WEBHOOK_ALLOWED_CIDRS_RAZORPAY=52.66.0.0/16,...``: unset means any source (the signature
    is what authenticates a webhook; the allow-list is defence in depth)."""
    raw = Settings.named(f"WEBHOOK_ALLOWED_CIDRS_{gateway.upper()}").read().strip()
    if not raw:
        return True
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr.strip(), strict=False) for cidr in raw.split(",") if cidr.strip())


def process(gateway: PaymentGateway, raw_body: str, headers: Mapping[str, str], source_ip: str | None) -> WebhookResult:
    try:
        event = gateway.parse_webhook(raw_body, headers)
    except SignatureInvalid:
        metrics.add_metric(name="WebhookSignatureRejected", unit="Count", value=1)
        logger.warning("webhook signature rejected", extra={"gateway": gateway.name.value})
        raise WebhookRefused() from None
    except GatewayRejected as exc:
        raise WebhookRefused(f"Malformed webhook: {exc}") from None
    if not _allowed(gateway.name.value, source_ip):
        raise SourceNotAllowed(source_ip=source_ip or "")
    # Only verified events count against the gateway's ceiling: forgeries cost no write.
    rate_limits.hit(f"webhook:{gateway.name.value}", f"/webhooks/{gateway.name.value}")
    outcome, txn_id = _apply(event, raw_body)
    logger.info(
        "webhook processed",
        extra={
            "gateway": event.gateway.value,
            "event_id": event.event_id,
            "type": event.raw_type,
            "outcome": outcome,
        },
    )
    return WebhookResult(event.event_id, outcome, txn_id)


def _record(event: WebhookEvent, raw_body: str, outcome: str, txn_id: str | None) -> WebhookEventItem:
    return WebhookEventItem(
        f"WEBHOOK#{event.gateway.value}#{event.event_id}",
        gateway=event.gateway.value,
        event_id=event.event_id,
        event_type=event.raw_type,
        outcome=outcome,
        txn_id=txn_id,
        raw_body=raw_body,
        received_at=utcnow(),
        expires_at=timedelta(seconds=RETENTION_S),
    )


def _save_alone(record: WebhookEventItem) -> str:
    try:
        record.save(condition=WebhookEventItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return "duplicate"
        raise
    return record.outcome


def _apply_other(event: WebhookEvent) -> str:
    """Payout, refund and dispute events. Each operation is idempotent by itself (ledger entry keys,
    conditional status moves, claimed task tokens), so the event is applied first and recorded
    after: a crash in between means the gateway's retry applies it again, harmlessly."""
    from payments.flows import chargebacks, refunds, withdrawals

    kind = event.kind
    if kind in _PAYOUT_OUTCOME:
        return withdrawals.on_payout_event(event.reference, _PAYOUT_OUTCOME[kind], event.failure_reason)
    if kind in (EventKind.REFUND_PROCESSED, EventKind.REFUND_FAILED):
        return refunds.on_refund_event(event.reference, kind is EventKind.REFUND_PROCESSED, event.failure_reason, ())
    if kind is EventKind.DISPUTE_CREATED and event.dispute_id:
        return chargebacks.on_dispute_created(event.gateway.value, event.order_id, event.dispute_id, event.amount_minor)
    if kind in (EventKind.DISPUTE_WON, EventKind.DISPUTE_LOST) and event.dispute_id:
        return chargebacks.on_dispute_closed(event.dispute_id, won=kind is EventKind.DISPUTE_WON)
    return "ignored" if kind is EventKind.IGNORED else "not_handled"


def _apply(event: WebhookEvent, raw_body: str) -> tuple[str, str | None]:
    status = _PAYMENT_STATUS.get(event.kind)
    if status is None or not event.order_id:
        outcome = _apply_other(event)
        saved = _save_alone(_record(event, raw_body, outcome, event.reference))
        return ("duplicate" if saved == "duplicate" else outcome), event.reference
    txn = find_by_order(event.gateway.value, event.order_id)
    if txn is None:
        # Not ours, or written so recently the index has not caught up: the sweeper settles it.
        return _save_alone(_record(event, raw_body, "unknown_order", None)), None
    info = PaymentInfo(
        payment_id=event.payment_id or "",
        order_id=event.order_id,
        status=status,
        amount_minor=event.amount_minor if event.amount_minor is not None else -1,
        currency=event.currency or "",
        failure_reason=event.failure_reason,
    )
    applied = _record(event, raw_body, "applied", txn.txn_id)
    try:
        outcome = deposits.settle(txn, info, extra=(ExtraPut(applied, "webhook"),))
    except DuplicateRecord:
        return "duplicate", txn.txn_id
    if outcome in ("credited", "failed"):
        return outcome, txn.txn_id
    # Nothing moved (already settled by confirm/sweeper, still pending, or a mismatch): record it.
    result = _save_alone(_record(event, raw_body, outcome, txn.txn_id))
    return result, txn.txn_id
