"""The scheduled jobs that resolve in-flight money (EventBridge; ``make run`` fires them too).

- :func:`sweep_deposits` (every 5 minutes): PENDING deposits whose confirmation and webhook never
  came are asked about at their gateway and settled through the same exactly-once path; expired
  ones have their order closed and fail (their KYC usage is given back).
- :func:`recover_in_flight` (every 5 minutes): PROCESSING refunds, open withdrawals and open
  disputes, each resolved by asking the gateway or Step Functions (:mod:`payments.flows.recovery`).
- :func:`reconcile` (hourly): every wallet recomputed from its ledger entries, a part of the table
  per run, and the in-flight records past their bound counted; reported, never edited.
- :func:`reconcile_with_gateways` (daily, and ``make reconcile-gateways``): a day of our completed
  deposits, refunds and payouts matched with each gateway's records; reported, never edited.
- :func:`chain_audit` (every 5 minutes): new audit records linked into their chains, heads anchored.
- :func:`verify_audit` (daily, and ``make audit-verify``): every chain walked, every ledger entry
  checked for its audit record; reported (ops table, metrics, logs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from payments.core.acting import acting_as
from payments.core.clock import Deadline, isoformat_z, utcnow
from payments.flows import chargebacks, deposits, recovery, refunds, withdrawals
from payments.flows.recovery import RecoveryReport
from payments.ledger import reconciliation
from payments.platform.observability import logger, metrics, oldest_in_flight_metric
from payments.store.ledger_table import count_in_flight_since, oldest_in_flight
from payments.store.ops_table import ReconciliationItem

if TYPE_CHECKING:
    from payments.audit.verify import Verification

#: The kinds the in-flight job resolves, each given an equal share of what is left of the run.
_KINDS = (
    (recovery.REFUND, refunds.recover),
    (recovery.WITHDRAWAL, withdrawals.recover),
    (recovery.DISPUTE, chargebacks.recover),
)


def sweep_deposits(deadline: Deadline | None = None, max_items: int = 500) -> RecoveryReport:
    with acting_as("job:deposit-sweeper"):
        return recovery.run(recovery.DEPOSIT, deposits.recover, deadline or Deadline(), max_items)


def recover_in_flight(deadline: Deadline | None = None, max_items: int = 500) -> list[RecoveryReport]:
    deadline = deadline or Deadline()
    reports = []
    with acting_as("job:recovery"):
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
    #: Age in minutes of the oldest record of each kind still in flight (None: nothing in flight).
    oldest_minutes: dict[str, int | None] = field(default_factory=dict)
    continued: bool = False
    report_key: str = field(default="")


def reconcile(deadline: Deadline | None = None, page_size: int = 500) -> ReconciliationRun:
    deadline = deadline or Deadline()
    started = utcnow()
    cursor = _load_cursor()
    scanned = reconciliation.scan_wallets(cursor, deadline, page_size)
    kinds = (recovery.DEPOSIT, recovery.REFUND, recovery.WITHDRAWAL, recovery.DISPUTE)
    overdue = {kind: count_in_flight_since(kind, started - recovery.policy(kind).bound) for kind in kinds}
    oldest = {kind: oldest_in_flight(kind) for kind in kinds}
    oldest_minutes = {
        kind: None if at is None else int((started - at).total_seconds() // 60) for kind, at in oldest.items()
    }
    run = ReconciliationRun(
        started_at=isoformat_z(started),
        wallets=scanned.wallets,
        pages=scanned.pages,
        differences=scanned.differences,
        overdue=overdue,
        pass_complete=scanned.cursor is None,
        oldest_minutes=oldest_minutes,
        continued=cursor is not None,
        report_key=f"RECONCILIATION#{isoformat_z(started)}",
    )
    ReconciliationItem(run.report_key, body=json.dumps(asdict(run)), expires_at=_REPORTS_KEPT).save()
    ReconciliationItem(_CURSOR_KEY, body=json.dumps(scanned.cursor)).save()
    metrics.add_metric(name="ReconciliationDifferences", unit="Count", value=len(run.differences))
    metrics.add_metric(name="WalletsReconciled", unit="Count", value=run.wallets)
    metrics.add_metric(name="InFlightOverdue", unit="Count", value=sum(overdue.values()))
    for kind, minutes in oldest_minutes.items():
        oldest_in_flight_metric(kind, minutes or 0)
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


def chain_audit(deadline: Deadline | None = None) -> dict[str, Any]:
    from payments.audit import chain  # only the audit jobs load it

    run = chain.chain_pending(deadline)
    metrics.add_metric(name="AuditRecordsChained", unit="Count", value=run.linked)
    metrics.add_metric(name="AuditChainsAnchored", unit="Count", value=run.anchored)
    return asdict(run)


_AUDIT_CURSOR_KEY = "AUDIT_VERIFICATION#cursor"
#: A pass through every chain that takes longer than this (runs continuing from a cursor) alarms.
_AUDIT_PASS_BOUND = timedelta(days=7)


def verify_audit(deadline: Deadline | None = None) -> Verification:
    """One run of the verifier, continuing the pass where the last run stopped."""
    from payments.audit import verify

    try:
        cursor = json.loads(ReconciliationItem.get(_AUDIT_CURSOR_KEY, consistent_read=True).body)
    except ReconciliationItem.DoesNotExist:
        cursor = {}
    found = verify.verify(deadline, after=cursor.get("after"))
    pass_started = cursor.get("pass_started") or found.started_at
    following = {} if found.pass_complete else {"after": found.last_chain, "pass_started": pass_started}
    ReconciliationItem(_AUDIT_CURSOR_KEY, body=json.dumps(following)).save()
    key = f"AUDIT_VERIFICATION#{found.started_at}"
    ReconciliationItem(key, body=json.dumps(asdict(found)), expires_at=_REPORTS_KEPT).save()
    behind = not found.pass_complete and utcnow() - datetime.fromisoformat(pass_started) > _AUDIT_PASS_BOUND
    metrics.add_metric(name="AuditChainsBroken", unit="Count", value=len(found.broken))
    metrics.add_metric(name="AuditRecordsMissing", unit="Count", value=sum(len(v) for v in found.missing.values()))
    metrics.add_metric(name="AuditUnchainedOverdue", unit="Count", value=found.unchained_overdue)
    metrics.add_metric(name="AuditVerificationBehind", unit="Count", value=1 if behind else 0)
    for chain_key, problem in found.broken.items():
        logger.error("audit chain broken", extra={"chain": chain_key, "first_broken_link": problem})
    for user_id, problems in found.missing.items():
        logger.error("ledger entries without matching audit records", extra={"user_id": user_id, "problems": problems})
    summary = {k: v for k, v in asdict(found).items() if k not in ("broken", "missing")}
    logger.info("audit verification", extra=summary)
    return found


def reconcile_with_gateways(detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """``detail`` may name ``since``/``until`` (``YYYY-MM-DD``, UTC days, ``until`` excluded); by
    default yesterday. The report is kept in the ops table and summarised as metrics."""
    from payments.flows.gateway_reconciliation import reconcile_gateways

    detail = detail or {}
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    since = _day(detail.get("since")) or today - timedelta(days=1)
    until = _day(detail.get("until")) or since + timedelta(days=1)
    report = reconcile_gateways(since, until)
    body = report.to_dict()
    differences = sum(report.totals.values())
    key = f"GATEWAY_RECONCILIATION#{body['since']}#{isoformat_z(utcnow())}"
    ReconciliationItem(key, body=json.dumps(body, default=str), expires_at=_REPORTS_KEPT).save()
    metrics.add_metric(name="GatewayReconciliationDifferences", unit="Count", value=differences)
    metrics.add_metric(name="GatewayReconciliationIncomplete", unit="Count", value=0 if report.complete else 1)
    metrics.add_metric(name="GatewayRecordsMatched", unit="Count", value=sum(report.matched.values()))
    for name, part in report.gateways.items():
        if not part.complete:
            logger.error("gateway reconciliation incomplete", extra={"gateway": name, "error": part.error})
        for found in part.differences:
            logger.error("gateway reconciliation difference", extra={"gateway": name, **asdict(found)})
    logger.info("gateway reconciliation", extra={k: v for k, v in body.items() if k != "gateways"})
    return {**body, "report_key": key}


def _day(text: Any) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(str(text), "%Y-%m-%d").replace(tzinfo=UTC)
