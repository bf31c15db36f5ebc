"""Withdrawals: lock the funds, then a Step Functions saga pays them out or gives them back.

``initiate`` moves the amount from available to locked and records the withdrawal in ONE ledger
write, then starts the state machine with the withdrawal id as execution name (a retried start
cannot run two sagas). The saga's steps are :mod:`payments.flows.withdrawal_saga`; this module
holds what they share with the API and the webhooks: the withdrawal record, releasing its funds,
and resuming a waiting saga exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from payments.core.caller import Caller
from payments.core.clock import utcnow
from payments.core.errors import Forbidden, InvalidRequest, LimitExceeded, NotFound, PaymentError, ServiceBusy
from payments.core.ids import new_ulid
from payments.core.money import parse_amount, to_minor
from payments.flows import methods, wallets
from payments.gateways import registry
from payments.gateways.base import GatewayName
from payments.kyc.tiers import limits_for
from payments.kyc.usage import LimitCharge
from payments.ledger.errors import AlreadyApplied
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction, StatusChange
from payments.platform.observability import logger, metrics
from payments.platform.settings import settings
from payments.store.ledger_table import TransactionItem, find_by_reference, reference_key

PENDING, PROCESSING = TransactionStatus.PENDING, TransactionStatus.PROCESSING
OPEN = (PENDING, PROCESSING)


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
def initiate(caller: Caller, amount: Any, payment_method_id: str, description: str | None) -> WithdrawalStarted:
    minor = to_minor(parse_amount(amount))
    if minor > limits_for(caller.kyc_level).single_transaction:
        raise LimitExceeded("Amount exceeds the single-transaction limit of your KYC level")
    method = methods.get_method(caller.user_id, payment_method_id)
    if not method.payout_capable:
        raise InvalidRequest("This payment method cannot receive payouts", field="payment_method_id")
    gateway = GatewayName(method.gateway)
    if gateway not in registry.enabled_gateways():
        raise InvalidRequest(f"{gateway.value} is not configured for payouts", field="payment_method_id")
    withdrawal_id = f"wd_{new_ulid()}"
    currency = registry.currency(gateway)
    charge = LimitCharge.charge(minor, utcnow(), limits_for(caller.kyc_level))
    attributes = methods.charged_to(
        method, charge, ("gateway", gateway.value), ("stage", "RISK_CHECK"), ("gsi1pk", reference_key(withdrawal_id))
    )
    change = NewTransaction(
        withdrawal_id,
        TransactionType.WITHDRAWAL,
        PENDING,
        currency=currency,
        description=description or "Withdrawal",
        attributes=attributes,
    )
    Ledger().lock(caller.user_id, minor, change, limit=charge)
    saga_input = {
        "withdrawal": {
            "id": withdrawal_id,
            "user_id": caller.user_id,
            "kyc_level": str(caller.kyc_level),
            "amount": minor,
            "currency": currency,
        },
        "timeouts": {
            "approval_seconds": settings.approval_timeout_seconds,
            "payout_seconds": settings.payout_timeout_seconds,
        },
    }
    try:
        _sfn().start_execution(
            stateMachineArn=settings.withdrawal_state_machine_arn, name=withdrawal_id, input=json.dumps(saga_input)
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("could not start the withdrawal saga; releasing the funds")
        reason = f"withdrawal could not be completed ({type(exc).__name__})"
        release_funds(caller.user_id, withdrawal_id, minor, TransactionStatus.FAILED, reason)
        raise ServiceBusy("The withdrawal could not be started; nothing was withdrawn") from exc
    metrics.add_metric(name="WithdrawalInitiated", unit="Count", value=1)
    return WithdrawalStarted(withdrawal_id, PENDING, minor, currency)


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
    if item is None:
        raise NotFound("Withdrawal not found", withdrawal_id=withdrawal_id)
    if item.stage not in ("AWAITING_APPROVAL", "MANUAL_REVIEW") or not item.task_token:
        raise PaymentError("This withdrawal is not waiting for a decision", stage=item.stage or "")
    resumed = _resume(item, {"approved": approve, "decided_by": caller.user_id})
    if not resumed:
        raise PaymentError("This withdrawal was decided already")
    logger.info("withdrawal decided", extra={"withdrawal_id": withdrawal_id, "approved": approve})
    return Decision(withdrawal_id, approve)


def release_funds(user_id: str, withdrawal_id: str, amount: int, to_status: TransactionStatus, reason: str) -> None:
    """Locked -> available and the KYC usage given back, in one write, once (a repeat is a no-op)."""
    change = StatusChange(withdrawal_id, OPEN, to_status, failure_reason=reason, attributes=(("stage", "RELEASED"),))
    item = load(user_id, withdrawal_id)
    give_back = LimitCharge.give_back(amount, item.limit_day, item.limit_month)
    try:
        Ledger().unlock(user_id, amount, change, limit=give_back)
    except AlreadyApplied:
        return
    metrics.add_metric(name="WithdrawalReleased", unit="Count", value=1)


# ---------------------------------------------------------------- resuming the saga
def _resume(item: TransactionItem, output: dict[str, Any]) -> bool:
    """Claim the task token (conditional remove), then hand the result to the execution. Only the
    claimant sends, so a saga is resumed exactly once whoever else tries at the same moment."""
    token = item.task_token
    if not token:
        return False
    try:
        TransactionItem(item.pk, item.sk).update(
            actions=[TransactionItem.task_token.remove()], condition=TransactionItem.task_token == token
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    client = _sfn()
    try:
        client.send_task_success(taskToken=token, output=json.dumps(output))
    except (client.exceptions.TaskTimedOut, client.exceptions.TaskDoesNotExist, client.exceptions.InvalidToken):
        logger.warning("the saga no longer waits for this token", extra={"withdrawal_id": item.txn_id})
        return False
    return True


def on_payout_event(reference: str | None, outcome: str, reason: str | None) -> str:
    """A payout webhook: resume the waiting saga once; ignore it for unknown or finished ones."""
    item = find_by_reference(reference) if reference else None
    if item is None:
        return "unknown_withdrawal"
    if outcome == "reversed" and item.status == TransactionStatus.COMPLETED:
        return _credit_reversal(item)
    if item.stage != "PAYOUT_REQUESTED":
        return "not_waiting"
    return "resumed" if _resume(item, {"outcome": outcome, "reason": reason}) else "not_waiting"


def _credit_reversal(item: TransactionItem) -> str:
    """A settled payout that bounced back: the money is ours again, so it goes back to the user."""
    change = NewTransaction(
        f"{item.txn_id}_reversal",
        TransactionType.ADJUSTMENT,
        TransactionStatus.COMPLETED,
        currency=item.currency,
        description=f"Payout {item.txn_id} reversed by the bank",
        reference_id=item.txn_id,
    )
    try:
        Ledger().credit(item.user_id, item.amount, change)
    except AlreadyApplied:
        return "already_applied"
    return "reversal_credited"
