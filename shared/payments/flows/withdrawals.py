"""Withdrawals: lock the funds, then a Step Functions saga pays them out or gives them back.

``initiate`` moves the amount from available to locked and records the withdrawal in ONE ledger
write, on the recovery job's list, then starts the state machine with the withdrawal id as
execution name (a repeated start cannot run two sagas). The lock and ``StartExecution`` cannot
share a transaction: if the start fails or its outcome is unknown, the funds stay locked and the
recovery job starts the saga (or finds it running) - they are never released on a guess.

The saga's steps are :mod:`payments.flows.withdrawal_saga`; this module holds what they share with
the API, the webhooks and the recovery job: the record, settling or releasing its funds (each
once, keyed by the withdrawal), and resuming a waiting saga exactly once: a resumer first claims
the task token by recording its decision on the withdrawal (conditional write), then sends it;
a claim whose sender died is sent again by the recovery job, with the same decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from payments.audit import records
from payments.core.caller import Caller
from payments.core.clock import Deadline, utcnow
from payments.core.errors import (
    Forbidden,
    GatewayNotConfigured,
    InvalidRequest,
    LedgerConflict,
    LimitExceeded,
    NotFound,
)
from payments.core.ids import new_ulid
from payments.core.money import parse_amount, to_minor
from payments.flows import methods, recovery, wallets
from payments.gateways import registry
from payments.gateways.base import GatewayName
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.kyc.tiers import limits_for
from payments.kyc.usage import LimitCharge
from payments.ledger.errors import AlreadyApplied
from payments.ledger.types import FINAL_STATUSES, TransactionStatus, TransactionType, payout_reversal_id
from payments.ledger.writer import Ledger, NewTransaction, StatusChange, audited
from payments.platform.observability import correlate, logger, metrics
from payments.platform.settings import settings
from payments.store.ledger_table import TransactionItem, find_by_reference

PENDING, PROCESSING = TransactionStatus.PENDING, TransactionStatus.PROCESSING
OPEN = (PENDING, PROCESSING)
#: A claimed decision not sent after this long is sent again by the recovery job.
CLAIM_LEASE = timedelta(minutes=2)
#: How long after the last payout attempt an empty "payouts under our reference" listing is
#: believed: an attempt that timed out may still be processed by the gateway meanwhile.
PAYOUT_QUIET = timedelta(minutes=15)


@dataclass(frozen=True)
class WithdrawalStarted:
    withdrawal_id: str
    status: TransactionStatus
    amount: int
    currency: str


@dataclass(frozen=True)
class Decision:
    withdrawal_id: str
    approved: bool


@cache
def _sfn() -> Any:
    import boto3

    return boto3.client("stepfunctions")


# ---------------------------------------------------------------- API
def initiate(
    caller: Caller, amount: Any, payment_method_id: str, description: str | None, operation_id: str | None = None
) -> WithdrawalStarted:
    """Lock and record, then start the saga. With ``operation_id`` (the client's Idempotency-Key)
    a retry resumes the withdrawal it started: it is never locked twice."""
    withdrawal_id = operation_id or f"wd_{new_ulid()}"
    correlate(withdrawal_id)
    existing = find_by_reference(withdrawal_id) if operation_id else None
    if existing is not None:
        if existing.type != TransactionType.WITHDRAWAL or existing.user_id != caller.user_id:
            raise InvalidRequest("This Idempotency-Key belongs to another operation")
        if existing.status in (PENDING, PROCESSING):
            _start(existing)
        return WithdrawalStarted(
            existing.txn_id, TransactionStatus(existing.status), existing.amount, existing.currency
        )
    minor = to_minor(parse_amount(amount))
    if minor > limits_for(caller.kyc_level).single_transaction:
        raise LimitExceeded("Amount exceeds the single-transaction limit of your KYC level")
    method = methods.get_method(caller.user_id, payment_method_id)
    if not method.payout_capable:
        raise InvalidRequest("This payment method cannot receive payouts", field="payment_method_id")
    gateway = GatewayName(method.gateway)
    if gateway not in registry.enabled_gateways():
        raise GatewayNotConfigured(f"{gateway.value} is not configured on this deployment", gateway=gateway.value)
    currency = settings.wallet_currency
    if registry.currency(gateway) != currency:
        raise InvalidRequest(
            f"{gateway.value} pays out in {registry.currency(gateway)}; this wallet holds {currency}",
            field="payment_method_id",
        )
    now = utcnow()
    charge = LimitCharge.charge(minor, now, limits_for(caller.kyc_level))
    attributes = methods.charged_to(
        method,
        charge,
        ("gateway", gateway.value),
        ("stage", "RISK_CHECK"),
        ("kyc_level", str(caller.kyc_level)),
        *recovery.tracked(recovery.WITHDRAWAL, withdrawal_id, now),
    )
    change = NewTransaction(
        withdrawal_id,
        TransactionType.WITHDRAWAL,
        PENDING,
        currency=currency,
        description=description or "Withdrawal",
        attributes=attributes,
        referable=True,
    )
    Ledger().lock(caller.user_id, minor, change, limit=charge)
    metrics.add_metric(name="WithdrawalInitiated", unit="Count", value=1)
    item = find_by_reference(withdrawal_id)
    if item is not None:
        _start(item)
    return WithdrawalStarted(withdrawal_id, PENDING, minor, currency)


def saga_input(item: TransactionItem) -> dict[str, Any]:
    return {
        "withdrawal": {
            "id": item.txn_id,
            "user_id": item.user_id,
            "kyc_level": item.kyc_level or "BASIC",
            "amount": item.amount,
            "currency": item.currency,
        },
        "timeouts": {
            "approval_seconds": settings.approval_timeout_seconds,
            "payout_seconds": settings.payout_timeout_seconds,
        },
    }


def _start(item: TransactionItem) -> bool:
    """Start the saga named by the withdrawal. Any failure leaves the funds locked for the
    recovery job: a start that timed out may have started it."""
    try:
        _sfn().start_execution(
            stateMachineArn=settings.withdrawal_state_machine_arn, name=item.txn_id, input=json.dumps(saga_input(item))
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return True
        logger.warning(
            "withdrawal saga not started; recovery will", extra={"withdrawal_id": item.txn_id, "error": str(exc)}
        )
        metrics.add_metric(name="SagaStartDeferred", unit="Count", value=1)
        return False
    except BotoCoreError as exc:
        logger.warning(
            "withdrawal saga start unknown; recovery will check",
            extra={"withdrawal_id": item.txn_id, "error": str(exc)},
        )
        metrics.add_metric(name="SagaStartDeferred", unit="Count", value=1)
        return False
    return True


def execution_arn(withdrawal_id: str) -> str:
    return f"{settings.withdrawal_state_machine_arn.replace(':stateMachine:', ':execution:')}:{withdrawal_id}"


def load(user_id: str, withdrawal_id: str) -> TransactionItem:
    """The caller's own withdrawal; anyone else's id is not found."""
    return wallets.own_transaction(user_id, withdrawal_id, TransactionType.WITHDRAWAL)


def status(caller: Caller, withdrawal_id: str) -> TransactionItem:
    return load(caller.user_id, withdrawal_id)


def decide(caller: Caller, withdrawal_id: str, approve: bool) -> Decision:
    """An admin's answer to a withdrawal waiting for review (risk flag or manual review)."""
    if not caller.is_admin:
        raise Forbidden("Admin role required")
    item = find_by_reference(withdrawal_id)
    if item is None or item.type != TransactionType.WITHDRAWAL:
        raise NotFound("Withdrawal not found", withdrawal_id=withdrawal_id)
    if item.stage not in ("AWAITING_APPROVAL", "MANUAL_REVIEW") or not item.task_token:
        raise LedgerConflict("This withdrawal is not waiting for a decision", stage=item.stage or "")
    if not resume(item, {"approved": approve, "decided_by": caller.user_id}):
        raise LedgerConflict("This withdrawal was decided already")
    logger.info("withdrawal decided", extra={"withdrawal_id": withdrawal_id, "approved": approve})
    return Decision(withdrawal_id, approve)


# ---------------------------------------------------------------- money: settle or release, once
def settle_funds(user_id: str, withdrawal_id: str, amount: int, currency: str) -> bool:
    """Locked -> paid out. False when it was settled before (a repeat changes nothing)."""
    change = StatusChange(
        withdrawal_id,
        OPEN,
        TransactionStatus.COMPLETED,
        currency=currency,
        attributes=(("stage", "SETTLED"),),
        type=TransactionType.WITHDRAWAL,
    )
    try:
        Ledger().settle_locked(user_id, amount, change)
    except AlreadyApplied:
        return False
    metrics.add_metric(name="WithdrawalSettled", unit="Count", value=1)
    return True


def release_funds(
    user_id: str, withdrawal_id: str, amount: int, currency: str, to_status: TransactionStatus, reason: str
) -> bool:
    """Locked -> available and the KYC usage given back, in one write. False when it was released
    before (a repeat changes nothing)."""
    item = load(user_id, withdrawal_id)
    change = StatusChange(
        withdrawal_id,
        OPEN,
        to_status,
        currency=currency,
        failure_reason=reason,
        attributes=(("stage", "RELEASED"),),
        **audited(item),
    )
    give_back = LimitCharge.give_back(amount, item.limit_day, item.limit_month)
    try:
        Ledger().unlock(user_id, amount, change, limit=give_back)
    except AlreadyApplied:
        return False
    metrics.add_metric(name="WithdrawalReleased", unit="Count", value=1)
    return True


# ---------------------------------------------------------------- resuming the saga
def resume(item: TransactionItem, output: dict[str, Any]) -> bool:
    """Claim the task token by recording the decision (conditional write), then hand it to the
    execution. Only the claimant sends, so a saga is resumed exactly once whoever else tries at
    the same moment; a claim whose sender died is re-sent by the recovery job."""
    token = item.task_token
    if not token:
        return False
    decided = "approved" in output
    record = records.build(
        "withdrawal_admin_decision" if decided else "withdrawal_resumed",
        chain=records.user_chain(item.user_id),
        user_id=item.user_id,
        transaction_id=item.txn_id,
        amount=item.amount,
        currency=item.currency,
        gateway=item.gateway,
        status=("approved" if output.get("approved") else "rejected") if decided else output.get("outcome"),
        details={"stage": item.stage, "reason": output.get("reason")},
    )

    def claim(tx: TransactWrite) -> None:
        tx.update(
            TransactionItem(item.pk, item.sk),
            actions=[TransactionItem.task_claim.set(json.dumps(output)), TransactionItem.claimed_at.set(utcnow())],
            condition=(TransactionItem.task_token == token) & TransactionItem.task_claim.does_not_exist(),
        )

    try:
        records.commit_with(record, claim)  # the decision and its audit record, together
    except TransactWriteError as exc:
        if records.cancelled_by_condition(exc, 1):
            return False
        raise
    return _send_claim(item.pk, item.sk, item.txn_id, token, output)


def _send_claim(pk: str, sk: str, withdrawal_id: str, token: str, output: dict[str, Any]) -> bool:
    client = _sfn()
    try:
        client.send_task_success(taskToken=token, output=json.dumps(output))
    except (client.exceptions.TaskTimedOut, client.exceptions.TaskDoesNotExist, client.exceptions.InvalidToken):
        logger.warning("the saga no longer waits for this token", extra={"withdrawal_id": withdrawal_id})
        _forget_token(pk, sk, token)
        return False
    _forget_token(pk, sk, token)
    return True


def _forget_token(pk: str, sk: str, token: str) -> None:
    try:
        TransactionItem(pk, sk).update(
            actions=[
                TransactionItem.task_token.remove(),
                TransactionItem.task_claim.remove(),
                TransactionItem.claimed_at.remove(),
            ],
            condition=TransactionItem.task_token == token,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def on_payout_event(
    reference: str | None, outcome: str, reason: str | None, amount: int | None, currency: str | None
) -> str:
    """A payout webhook: resume the waiting saga once (its payout step, or its manual review with
    the gateway's answer). Amounts and currencies must be ours."""
    item = find_by_reference(reference) if reference else None
    if item is None or item.type != TransactionType.WITHDRAWAL:
        return "unknown_withdrawal"
    if (amount is not None and amount != item.amount) or (currency and currency.upper() != item.currency):
        metrics.add_metric(name="PayoutEventMismatch", unit="Count", value=1)
        logger.error("payout event differs from our withdrawal; not applied", extra={"withdrawal_id": item.txn_id})
        return "mismatch"
    if item.status == TransactionStatus.COMPLETED:
        return _credit_reversal(item) if outcome in ("reversed", "failed") else "already_applied"
    if item.status in FINAL_STATUSES:
        if outcome == "processed":
            metrics.add_metric(name="PayoutAfterRelease", unit="Count", value=1)
            logger.error("a payout was made for a released withdrawal; review it", extra={"withdrawal_id": item.txn_id})
            return "needs_review"
        return "already_applied"
    waiting = {
        "PAYOUT_REQUESTED": {"outcome": outcome, "reason": reason},
        "MANUAL_REVIEW": {"approved": outcome == "processed", "decided_by": "gateway"},
    }.get(item.stage or "")
    if item.task_token and waiting is not None and resume(item, waiting):
        return "resumed"
    # Nobody waits for it: the saga asks the gateway itself (VerifyPayout), and a saga that is
    # gone is finished by the recovery job, which asks the gateway too. Nothing is lost.
    return "not_waiting"


def _credit_reversal(item: TransactionItem) -> str:
    """A settled payout that bounced back (or failed after paying): the money is ours again, so
    it goes back to the user, once."""
    change = NewTransaction(
        payout_reversal_id(item.txn_id),
        TransactionType.ADJUSTMENT,
        TransactionStatus.COMPLETED,
        currency=item.currency,
        description=f"Payout {item.txn_id} reversed by the bank",
        reference_id=item.txn_id,
    )
    try:
        Ledger().credit(item.user_id, item.amount, change)
    except LedgerConflict:  # credited before
        return "already_applied"
    return "reversal_credited"


# ---------------------------------------------------------------- the recovery job's part
def recover(item: TransactionItem, deadline: Deadline) -> str:
    """An open withdrawal the recovery job found due. A claimed decision whose sender died is
    sent again; a saga that never started is started; a saga that ended with the funds still
    locked is finished here by asking the gateway where the payout stands; one waiting in manual
    review is decided by the gateway's answer when it has one."""
    if item.status not in (PENDING, PROCESSING):
        return "already_settled"
    if item.task_claim and item.task_token and item.claimed_at and utcnow() - item.claimed_at > CLAIM_LEASE:
        _send_claim(item.pk, item.sk, item.txn_id, item.task_token, json.loads(item.task_claim))
        recovery.postpone(item, recovery.WITHDRAWAL)
        return "claim_resent"
    client = _sfn()
    try:
        execution = client.describe_execution(executionArn=execution_arn(item.txn_id))["status"]
    except client.exceptions.ExecutionDoesNotExist:
        started = _start(item)
        recovery.postpone(item, recovery.WITHDRAWAL)
        return "saga_started" if started else "saga_start_failed"
    except (ClientError, BotoCoreError) as exc:
        logger.warning("recovery could not describe the saga", extra={"withdrawal_id": item.txn_id, "error": str(exc)})
        recovery.postpone(item, recovery.WITHDRAWAL)
        return "sfn_error"
    if execution == "RUNNING" and item.stage != "MANUAL_REVIEW":
        recovery.postpone(item, recovery.WITHDRAWAL)
        return "saga_running"
    return _finish_from_gateway(item, deadline, waiting=execution == "RUNNING")


def _finish_from_gateway(item: TransactionItem, deadline: Deadline, waiting: bool) -> str:
    """Ask the gateway about the payout under our reference. Processed settles; failed, or none
    made, releases (no payout can appear later: nothing is requesting one any more); pending
    waits. A saga in manual review is resumed with that answer instead."""
    outcome = payout_outcome(item, deadline)
    if outcome in ("pending", "unknown") or (outcome == "not_requested" and waiting):
        recovery.postpone(item, recovery.WITHDRAWAL)
        return f"payout_{outcome}"
    approved = outcome == "processed"
    if waiting:
        resumed = resume(item, {"approved": approved, "decided_by": "recovery"})
        recovery.postpone(item, recovery.WITHDRAWAL)
        return "review_resolved" if resumed else "review_busy"
    if approved:
        settle_funds(item.user_id, item.txn_id, item.amount, item.currency)
        return "settled"
    reason = "the withdrawal's saga ended without a payout" if outcome == "not_requested" else f"payout {outcome}"
    release_funds(item.user_id, item.txn_id, item.amount, item.currency, TransactionStatus.FAILED, reason)
    return "released"


def payout_outcome(item: TransactionItem, deadline: Deadline) -> str:
    """``processed``, ``failed``, ``not_sent`` (the gateway confirms no payout exists for our
    reference), ``not_requested`` (the saga never got that far), ``pending`` or ``unknown``."""
    if item.stage in ("RISK_CHECK", "AWAITING_APPROVAL") and not item.gateway_payout_id:
        return "not_requested"
    gateway = registry.build(GatewayName(item.gateway or "mock"), timeout_s=deadline.budget(8.0, 2.0))
    try:
        if item.gateway_payout_id:
            result = gateway.payout_status(item.gateway_payout_id)
        else:
            found = gateway.find_payout(item.txn_id, item.created_at)
            if found is None:
                # An attempt that timed out moments ago may still be processed: "none" is only
                # believed once the last attempt is older than PAYOUT_QUIET.
                quiet = item.payout_sent_at is None or utcnow() - item.payout_sent_at >= PAYOUT_QUIET
                return "not_sent" if quiet else "pending"
            result = found
    except (GatewayUnavailable, GatewayRejected) as exc:
        logger.warning(
            "could not ask the gateway about a payout", extra={"withdrawal_id": item.txn_id, "error": str(exc)}
        )
        return "unknown"
    return {"PROCESSED": "processed", "FAILED": "failed"}.get(result.status, "pending")
