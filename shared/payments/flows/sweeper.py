"""The stuck-payment sweeper: deposits PENDING for longer than ``SWEEPER_MIN_AGE_MINUTES``
(default 10) are re-queried at their gateway and settled through the same exactly-once path as
confirm and webhooks; those with no payment after ``DEPOSIT_EXPIRY_HOURS`` (default 24) fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from payments.core.clock import isoformat_z, utcnow
from payments.flows import deposits
from payments.gateways import registry
from payments.gateways.base import GatewayName, PaymentInfo, PaymentStatus
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.platform.observability import logger
from payments.platform.settings import settings
from payments.store.ledger_table import PENDING_DEPOSITS, TransactionItem


@dataclass
class SweepReport:
    examined: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def sweep(max_items: int = 500) -> SweepReport:
    now = utcnow()
    min_age = timedelta(minutes=settings.sweeper_min_age_minutes)
    expiry = timedelta(hours=settings.deposit_expiry_hours)
    report = SweepReport()
    keys = TransactionItem.pending.query(
        PENDING_DEPOSITS, TransactionItem.gsi2sk <= isoformat_z(now - min_age), limit=max_items
    )
    for key in keys:
        txn = TransactionItem.get(key.pk, key.sk, consistent_read=True)
        report.examined += 1
        if txn.status != "PENDING":
            report.count("already_settled")
            continue
        report.count(_settle_one(txn, expired=now - txn.created_at > expiry))
    logger.info("sweep finished", extra={"examined": report.examined, "outcomes": report.outcomes})
    return report


def _settle_one(txn: TransactionItem, expired: bool) -> str:
    info: PaymentInfo | None = None
    if txn.gateway and txn.gateway_order_id:
        try:
            info = registry.build(GatewayName(txn.gateway)).fetch_payment(txn.gateway_order_id)
        except (GatewayUnavailable, GatewayRejected) as exc:
            logger.warning(
                "sweeper could not query the gateway", extra={"transaction_id": txn.txn_id, "error": str(exc)}
            )
            return "gateway_error"
    if info is None or info.status in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED):
        if not expired:
            return "still_pending"
        reason = "expired: no payment was completed in time"
        info = PaymentInfo("", txn.gateway_order_id or "", PaymentStatus.FAILED, txn.amount, txn.currency, reason)
    return deposits.settle(txn, info)
