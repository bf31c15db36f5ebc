"""Gateway webhooks: verify the signature on the raw body first, then (optionally) the source IP,
then apply the event once, through the same paths as confirm, the saga and the recovery jobs.

An event is recorded as seen only when it was applied or does not apply: a payment event's record
is written in the same DynamoDB transaction as the credit it causes (a replay is refused by it);
other events are applied first - each operation is idempotent by itself - and recorded after, so
a crash in between only means the gateway's retry applies it again, harmlessly.

What the gateway sees: 2xx for anything applied, already applied, or not applicable (a
mismatch, an ignored type, an event older than an hour for something that is not ours); 503 for
an event we cannot match *yet* and for transient failures, so the gateway retries. Never 4xx for
a verified event: a gateway retries those forever or drops them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import PutError

from payments.core.clock import epoch_seconds, utcnow
from payments.flows import deposits
from payments.flows.errors import SourceNotAllowed, WebhookNotMatched, WebhookRefused
from payments.gateways.base import EventKind, PaymentGateway, PaymentInfo, PaymentStatus, WebhookEvent
from payments.gateways.errors import GatewayRejected, SignatureInvalid
from payments.guards import rate_limits
from payments.ledger.errors import DuplicateRecord
from payments.ledger.writer import ExtraPut
from payments.platform.observability import correlate, logger, metrics
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
    EventKind.PAYMENT_AUTHORIZED: PaymentStatus.AUTHORIZED,
    EventKind.PAYMENT_ATTEMPT_FAILED: PaymentStatus.PENDING,
    EventKind.PAYMENT_FAILED: PaymentStatus.FAILED,
}
_UNMATCHED = frozenset({"unknown_order", "unknown_refund", "unknown_withdrawal", "unknown_dispute"})
#: An event we cannot match is retried (503) while younger than this; older ones are not ours.
MATCH_GRACE_S = 3600


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
    correlate(txn_id)
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
    """Payout, refund and dispute events; each operation is idempotent by itself (ledger entry
    keys, conditional status moves, claimed task tokens)."""
    from payments.flows import chargebacks, refunds, withdrawals

    kind = event.kind
    if kind in _PAYOUT_OUTCOME:
        return withdrawals.on_payout_event(
            event.reference, _PAYOUT_OUTCOME[kind], event.failure_reason, event.amount_minor, event.currency
        )
    if kind in (EventKind.REFUND_PROCESSED, EventKind.REFUND_FAILED):
        return refunds.on_refund_event(
            event.reference,
            kind is EventKind.REFUND_PROCESSED,
            event.failure_reason,
            event.amount_minor,
            event.currency,
            event.refund_id,
        )
    if kind is EventKind.DISPUTE_CREATED and event.dispute_id:
        return chargebacks.on_dispute_created(
            event.gateway.value, event.order_id, event.dispute_id, event.amount_minor, event.currency
        )
    if kind in (EventKind.DISPUTE_WON, EventKind.DISPUTE_LOST) and event.dispute_id:
        return chargebacks.on_dispute_closed(event.dispute_id, won=kind is EventKind.DISPUTE_WON)
    return "ignored" if kind is EventKind.IGNORED else "not_handled"


def _apply(event: WebhookEvent, raw_body: str) -> tuple[str, str | None]:
    status = _PAYMENT_STATUS.get(event.kind)
    if status is not None and event.order_id:
        return _apply_payment(event, raw_body, status)
    outcome = _apply_other(event)
    if outcome in _UNMATCHED and (event.reference or event.order_id or event.dispute_id):
        _retry_unless_old(event)
    saved = _save_alone(_record(event, raw_body, outcome, event.reference))
    return ("duplicate" if saved == "duplicate" else outcome), event.reference


def _retry_unless_old(event: WebhookEvent) -> None:
    """An event for something we do not know: not recorded, answered 503 while it is young (the
    record it refers to may be a moment behind it); after an hour it is not ours."""
    if event.occurred_at is not None and epoch_seconds() - event.occurred_at < MATCH_GRACE_S:
        raise WebhookNotMatched(event_id=event.event_id)


def _apply_payment(event: WebhookEvent, raw_body: str, status: PaymentStatus) -> tuple[str, str | None]:
    txn = find_by_order(event.gateway.value, event.order_id or "")
    if txn is None:
        _retry_unless_old(event)
        return _save_alone(_record(event, raw_body, "unknown_order", None)), None
    info = PaymentInfo(
        payment_id=event.payment_id or "",
        order_id=event.order_id or "",
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
    if outcome in ("credited", "failed", "returned", "second_payment_returned"):
        return outcome, txn.txn_id  # recorded in the same write as the money
    # Nothing moved (settled before, still pending, or a mismatch): record it as seen.
    result = _save_alone(_record(event, raw_body, outcome, txn.txn_id))
    return result, txn.txn_id
