"""The scheduled jobs that resolve in-flight money (EventBridge; ``make run`` fires them too).

- :func:`sweep_deposits` (every 5 minutes): PENDING deposits whose confirmation and webhook never
  came are asked about at their gateway and settled through the same exactly-once path; expired
  ones have their order closed and fail (their KYC usage is given back).
- :func:`recover_in_flight` (every 5 minutes): PROCESSING refunds, open withdrawals and open
  disputes, each resolved by asking the gateway or Step Functions (:mod:`payments.flows.recovery`).
"""

from __future__ import annotations

from payments.core.clock import Deadline
from payments.flows import chargebacks, deposits, recovery, refunds, withdrawals
from payments.flows.recovery import RecoveryReport

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
