"""The scheduled jobs that resolve in-flight money (EventBridge; ``make run`` fires them too).

- :func:`sweep_deposits` (every 5 minutes): PENDING deposits whose confirmation and webhook never
  came are asked about at their gateway and settled through the same exactly-once path; expired
  ones have their order closed and fail (their KYC usage is given back).
- :func:`recover_in_flight` (every 5 minutes): PROCESSING refunds, open withdrawals and open
  disputes, each resolved by asking the gateway or Step Functions (:mod:`payments.flows.recovery`).
- :func:`reconcile` (hourly): every wallet recomputed from its ledger entries, a part of the table
  per run, and the in-flight records past their bound counted; reported, never edited.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from payments.core.clock import Deadline, isoformat_z, utcnow
from payments.flows import chargebacks, deposits, recovery, refunds, withdrawals
from payments.flows.recovery import RecoveryReport
from payments.ledger import reconciliation
from payments.platform.observability import logger, metrics
from payments.store.ledger_table import count_in_flight_since
from payments.store.ops_table import ReconciliationItem

#: The kinds the in-flight job resolves, each given an equal share of what is left of the run.
_KINDS = (
    (recovery.REFUND, refunds.recover),
    (recovery.WITHDRAWAL, withdrawals.recover),
    (recovery.DISPUTE, chargebacks.recover),
)


def sweep_deposits(deadline: Deadline | None = None, max_items: int = 500) -> RecoveryReport:
    return recovery.run(recovery.DEPOSIT, deposits.recover, deadline or Deadline(), max_items)


def recover_in_flight(deadline: Deadline | None = None, max_items: int = 500) -> list[RecoveryReport]:
    deadline = deadline or Deadline()
    reports = []
    for index, (kind, resolve) in enumerate(_KINDS):
        reports.append(recovery.run(kind, resolve, _share(deadline, len(_KINDS) - index), max_items))
    return reports


def _share(deadline: Deadline, parts: int) -> Deadline:
    """An equal part of what is left, so one busy kind cannot starve the others."""
    remaining = deadline.remaining()
    if remaining == float("inf"):
        return deadline
    keep = remaining - remaining / parts
    return Deadline(lambda: deadline.remaining() - keep)


_CURSOR_KEY = "RECONCILIATION#cursor"
_REPORTS_KEPT = timedelta(days=90)


@dataclass
class ReconciliationRun:
    """What one run found. ``differences`` maps a user id to what disagrees in their wallet;
    ``overdue`` counts each kind's in-flight records older than their bound; ``pass_complete``
    says the run reached the end of the table (else the next run continues from ``cursor``)."""

    started_at: str
    wallets: int
    pages: int
    differences: dict[str, list[str]]
    overdue: dict[str, int]
    pass_complete: bool
    continued: bool = False
    report_key: str = field(default="")


def reconcile(deadline: Deadline | None = None, page_size: int = 500) -> ReconciliationRun:
    deadline = deadline or Deadline()
    started = utcnow()
    cursor = _load_cursor()
    scanned = reconciliation.scan_wallets(cursor, deadline, page_size)
    overdue = {
        kind: count_in_flight_since(kind, started - recovery.policy(kind).bound)
        for kind in (recovery.DEPOSIT, recovery.REFUND, recovery.WITHDRAWAL, recovery.DISPUTE)
    }
    run = ReconciliationRun(
        started_at=isoformat_z(started),
        wallets=scanned.wallets,
        pages=scanned.pages,
        differences=scanned.differences,
        overdue=overdue,
        pass_complete=scanned.cursor is None,
        continued=cursor is not None,
        report_key=f"RECONCILIATION#{isoformat_z(started)}",
    )
    ReconciliationItem(run.report_key, body=json.dumps(asdict(run)), expires_at=_REPORTS_KEPT).save()
    ReconciliationItem(_CURSOR_KEY, body=json.dumps(scanned.cursor)).save()
    metrics.add_metric(name="ReconciliationDifferences", unit="Count", value=len(run.differences))
    metrics.add_metric(name="WalletsReconciled", unit="Count", value=run.wallets)
    metrics.add_metric(name="InFlightOverdue", unit="Count", value=sum(overdue.values()))
    if run.differences:
        for user_id, problems in run.differences.items():
            logger.error("wallet disagrees with its ledger", extra={"user_id": user_id, "problems": problems})
    logger.info("reconciliation run", extra={k: v for k, v in asdict(run).items() if k != "differences"})
    return run


def _load_cursor() -> dict[str, Any] | None:
    try:
        value = json.loads(ReconciliationItem.get(_CURSOR_KEY, consistent_read=True).body)
    except ReconciliationItem.DoesNotExist:
        return None
    return value if isinstance(value, dict) else None
