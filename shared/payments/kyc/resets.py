"""The scheduled resets of daily and monthly usage (EventBridge, 00:05 UTC daily and on the 1st).

Usage already rolls over lazily on the next movement (payments.kyc.usage), so nothing depends on
these jobs having run; they make the stored counters match the calendar for reports and
dashboards. They walk the wallets a page at a time (a filtered Scan: only wallets with stale,
non-zero usage are returned) and reset each with a condition on its period, so a movement racing
the job is never overwritten.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from payments.core.clock import utcnow
from payments.kyc.tiers import day_period, month_period
from payments.platform.observability import logger
from payments.store.ledger_table import WALLET_SK, WalletItem


@dataclass
class ResetReport:
    kind: str
    period: str
    pages: int = 0
    examined: int = 0
    reset: int = 0


def reset(kind: str, now: datetime | None = None, page_size: int = 500) -> dict[str, Any]:
    now = now or utcnow()
    used, period_attr, period = (
        (WalletItem.daily_used, WalletItem.daily_period, day_period(now))
        if kind == "daily"
        else (WalletItem.monthly_used, WalletItem.monthly_period, month_period(now))
    )
    report = ResetReport(kind, period)
    pages = WalletItem.scan(
        (WalletItem.sk == WALLET_SK) & (used > 0) & (period_attr != period), page_size=page_size
    ).page_iter
    for page in pages:  # one Scan request each; only this page is in memory
        report.pages += 1
        for raw in page.get("Items", []):
            wallet = WalletItem.from_raw_data(raw)
            report.examined += 1
            try:
                wallet.update(actions=[used.set(0), period_attr.set(period)], condition=period_attr != period)
                report.reset += 1
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
    logger.info("usage reset", extra=asdict(report))
    return asdict(report)
