"""In-flight records and the jobs that resolve them.

A deposit PENDING, a refund PROCESSING, a withdrawal whose funds are locked and an open dispute
are *in flight*: money is waiting for an answer (docs/decisions.md, "in-flight states"). Each
carries a due time in the sparse ``inflight`` index from the moment it is written. The recovery
jobs read what is due, oldest first, ask the gateway (or Step Functions) where it stands, and
either settle it - a final status takes it off the list - or push its due time forward with
backoff. So every run makes progress through all of them, whatever their number: nothing is read
again before its next due time, and a job stops before its own time runs out.

A record older than its kind's ``bound`` is overdue: the jobs count it in the metric
``InFlightOverdue`` (dimension ``kind``) and log it, which is what the alarm watches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from payments.core.clock import Deadline, sortable, utcnow
from payments.platform.observability import logger, metrics
from payments.platform.settings import settings
from payments.store.ledger_table import (
    TransactionItem,
    count_in_flight_since,
    due_for_recovery,
    inflight_attributes,
    inflight_partition,
)

DEPOSIT, REFUND, WITHDRAWAL, DISPUTE = "DEPOSIT", "REFUND", "WITHDRAWAL", "DISPUTE"
#: A job stops taking new records when less than this is left of its invocation.
_STOP_BEFORE_END_S = 15.0
_MIN_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Policy:
    """When a kind is first looked at, how far apart later looks are, and when it is overdue."""

    first_check: timedelta
    max_interval: timedelta
    bound: timedelta


def policy(kind: str) -> Policy:
    if kind == DEPOSIT:
        expiry = timedelta(hours=settings.deposit_expiry_hours)
        first = timedelta(minutes=settings.sweeper_min_age_minutes)
        return Policy(first, timedelta(hours=1), expiry + timedelta(hours=1))
    if kind == REFUND:
        return Policy(timedelta(minutes=5), timedelta(hours=1), timedelta(days=7))
    if kind == WITHDRAWAL:
        waits = timedelta(seconds=settings.approval_timeout_seconds + settings.payout_timeout_seconds)
        return Policy(timedelta(minutes=5), timedelta(hours=1), waits + timedelta(days=1))
    return Policy(timedelta(days=1), timedelta(days=1), timedelta(days=120))  # disputes run for weeks


def tracked(kind: str, txn_id: str, now: datetime) -> tuple[tuple[str, str], ...]:
    """Attributes that put a new record on its job's list, first due after ``first_check``."""
    return inflight_attributes(kind, txn_id, now + policy(kind).first_check)


def postpone(item: TransactionItem, kind: str, at: datetime | None = None) -> None:
    """Look at ``item`` again later (backoff), unless it changed meanwhile (then it is current)."""
    attempts = int(item.recovery_attempts or 0) + 1
    rules = policy(kind)
    backoff = max(rules.first_check, _MIN_INTERVAL) * 2 ** min(attempts, 16)
    due = at or utcnow() + min(backoff, rules.max_interval)
    try:
        TransactionItem(item.pk, item.sk).update(
            actions=[
                TransactionItem.gsi2sk.set(f"{sortable(due)}#{item.txn_id}"),
                TransactionItem.recovery_attempts.set(attempts),
            ],
            condition=(TransactionItem.status == item.status)
            & (TransactionItem.gsi2pk == inflight_partition(kind, item.txn_id)),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


@dataclass
class RecoveryReport:
    kind: str
    examined: int = 0
    overdue: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


Resolver = Callable[[TransactionItem, Deadline], str]


def run(kind: str, resolve: Resolver, deadline: Deadline, max_items: int = 500) -> RecoveryReport:
    """Resolve the due records of ``kind``, oldest due first, within the invocation's time.
    ``resolve`` returns an outcome name and either settles the record or postpones it. A record
    whose resolution fails is logged, postponed and skipped: it never stops the run."""
    now = utcnow()
    report = RecoveryReport(kind)
    bound = policy(kind).bound
    for pk, sk in due_for_recovery(kind, now, max_items):
        if report.examined >= max_items or deadline.remaining() < _STOP_BEFORE_END_S:
            break
        try:
            item = TransactionItem.get(pk, sk, consistent_read=True)
        except TransactionItem.DoesNotExist:
            continue
        report.examined += 1
        logger.append_keys(transaction_id=item.txn_id)
        if now - item.created_at > bound:
            logger.error("in-flight record past its bound", extra={"transaction_id": item.txn_id, "kind": kind})
        try:
            report.count(resolve(item, deadline))
        except Exception:  # noqa: BLE001 - one record's failure must not stop the others
            logger.exception("recovery failed; looked at again later", extra={"transaction_id": item.txn_id})
            metrics.add_metric(name="RecoveryError", unit="Count", value=1)
            report.count("error")
            postpone(item, kind)
    logger.remove_keys(["transaction_id"])
    # Counted from the index, examined or not: a backlog cannot hide what is overdue behind it.
    report.overdue = count_in_flight_since(kind, now - bound)
    metrics.add_metric(name=f"InFlightOverdue{kind.title()}", unit="Count", value=report.overdue)
    logger.info("recovery run", extra={"kind": kind, "examined": report.examined, "outcomes": report.outcomes})
    return report
