"""Withdrawals: lock the funds, then a Step Functions saga pays them out or gives them back.

``initiate`` moves the amount from available to locked and records the withdrawal in ONE ledger
write, then starts the state machine with the withdrawal id as execution name (a retried start
cannot run two sagas). The saga's steps below are each a Lambda; every path ends in exactly one
of SETTLE (locked -> paid out) or UNLOCK (locked -> available), both keyed by the withdrawal so
a retried step or a duplicate webhook cannot apply them twice. Waiting states keep their task
token on the withdrawal; whoever resumes them (payout webhook, admin) first removes the token
with a condition, so a saga is resumed exactly once.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from decimal import Decimal
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from payments import methods, wallets
from payments.caller import Caller
from payments.clock import isoformat_z, utcnow
from payments.errors import Forbidden, InvalidRequest, LimitExceeded, NotFound, PaymentError, ServiceBusy
from payments.gateways import registry
from payments.gateways.base import (
    GatewayName,
    GatewayRejected,
    GatewayUnavailable,
    MethodType,
    PayoutRequest,
)
from payments.ids import new_ulid
from payments.ledger import AlreadyApplied, Ledger, NewTransaction, StatusChange
from payments.ledger_types import TransactionStatus, TransactionType
from payments.limits import KycLevel, limits_for
from payments.models import TransactionItem, reference_key, txn_sk, user_pk
from payments.money import format_minor, parse_amount, to_minor
from payments.observability import logger, metrics
from payments.usage import LimitCharge

PENDING, PROCESSING = TransactionStatus.PENDING, TransactionStatus.PROCESSING
OPEN = (PENDING, PROCESSING)


class TransientGatewayError(Exception):
    """The gateway is unavailable: the state machine retries this step with backoff."""


class PayoutRejectedError(Exception):
    """The gateway refused the payout: the saga releases the funds."""


@cache
def _sfn() -> Any:
    import boto3

    return boto3.client("stepfunctions")


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


# ---------------------------------------------------------------- API
def initiate(caller: Caller, amount: Any, payment_method_id: str, description: str | None) -> dict[str, Any]:
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
    Ledger().lock(
        caller.user_id,
        minor,
        NewTransaction(
            withdrawal_id,
            TransactionType.WITHDRAWAL,
            PENDING,
            currency=currency,
            description=description or "Withdrawal",
            attributes=(
                ("payment_method_id", method.method_id),
                ("method_type", method.type),
                ("gateway", gateway.value),
                ("stage", "RISK_CHECK"),
                ("gsi1pk", reference_key(withdrawal_id)),
                ("limit_day", charge.day),
                ("limit_month", charge.month),
            ),
        ),
        limit=charge,
    )
    saga_input = {
        "withdrawal": {
            "id": withdrawal_id,
            "user_id": caller.user_id,
            "kyc_level": str(caller.kyc_level),
            "amount": minor,
            "currency": currency,
        },
        "timeouts": {
            "approval_seconds": _int_env("APPROVAL_TIMEOUT_SECONDS", 7 * 24 * 3600),
            "payout_seconds": _int_env("PAYOUT_TIMEOUT_SECONDS", 24 * 3600),
        },
    }
    try:
        _sfn().start_execution(
            stateMachineArn=os.environ["WITHDRAWAL_STATE_MACHINE_ARN"], name=withdrawal_id, input=json.dumps(saga_input)
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("could not start the withdrawal saga; releasing the funds")
        release({"withdrawal": saga_input["withdrawal"], "error": {"Error": type(exc).__name__}})
        raise ServiceBusy("The withdrawal could not be started; nothing was withdrawn") from exc
    metrics.add_metric(name="WithdrawalInitiated", unit="Count", value=1)
    return {
        "success": True,
        "withdrawal_id": withdrawal_id,
        "status": str(PENDING),
        "amount": format_minor(minor),
        "currency": currency,
    }


def _load(user_id: str, withdrawal_id: str) -> TransactionItem:
    return wallets.own_transaction(user_id, withdrawal_id, TransactionType.WITHDRAWAL)


def find(withdrawal_id: str) -> TransactionItem | None:
    for key in TransactionItem.by_order.query(reference_key(withdrawal_id), limit=1):
        return TransactionItem.get(key.pk, key.sk, consistent_read=True)
    return None


def status(caller: Caller, withdrawal_id: str) -> dict[str, Any]:
    item = _load(caller.user_id, withdrawal_id)
    return {
        "withdrawal_id": item.txn_id,
        "status": item.status,
        "stage": item.stage,
        "amount": format_minor(item.amount),
        "currency": item.currency,
        "payment_method_id": item.payment_method_id,
        "gateway": (item.gateway or "").upper() or None,
        "gateway_payout_id": item.gateway_payout_id,
        "failure_reason": item.failure_reason,
        "created_at": isoformat_z(item.created_at),
        "updated_at": isoformat_z(item.updated_at),
        "completed_at": isoformat_z(item.completed_at) if item.completed_at else None,
    }


def decide(caller: Caller, withdrawal_id: str, approve: bool) -> dict[str, Any]:
    """An admin's answer to a withdrawal waiting for review (risk flag or manual review)."""
    if not caller.is_admin:
        raise Forbidden("Admin role required")
    item = find(withdrawal_id)
    if item is None:
        raise NotFound("Withdrawal not found", withdrawal_id=withdrawal_id)
    if item.stage not in ("AWAITING_APPROVAL", "MANUAL_REVIEW") or not item.task_token:
        raise PaymentError("This withdrawal is not waiting for a decision", stage=item.stage or "")
    resumed = _resume(item, {"approved": approve, "decided_by": caller.user_id})
    if not resumed:
        raise PaymentError("This withdrawal was decided already")
    logger.info("withdrawal decided", extra={"withdrawal_id": withdrawal_id, "approved": approve})
    return {"success": True, "withdrawal_id": withdrawal_id, "decision": "approved" if approve else "rejected"}


# ---------------------------------------------------------------- saga steps
def risk_check(event: dict[str, Any]) -> dict[str, Any]:
    """The fraud engine, plus the review threshold: a large withdrawal always waits for an admin."""
    from payments import risk, security_events  # only this step needs them

    withdrawal = event["withdrawal"]
    now = utcnow()
    tier = limits_for(KycLevel(withdrawal.get("kyc_level", "BASIC")))
    item = _load(withdrawal["user_id"], withdrawal["id"])
    method = methods.get_method(withdrawal["user_id"], item.payment_method_id or "")
    history = [m for m in risk.recent_history(withdrawal["user_id"], now) if m.at < item.created_at]
    assessment = risk.assess(
        "WITHDRAWAL", withdrawal["amount"], now, history, tier.single_transaction, tier.daily_limit, method.created_at
    )
    threshold = to_minor(Decimal(os.environ.get("WITHDRAWAL_REVIEW_AMOUNT", "10000.00")))
    indicators = list(assessment.indicators)
    decision = assessment.decision
    if withdrawal["amount"] >= threshold and decision == risk.Decision.ALLOW:
        decision, indicators = risk.Decision.REVIEW, [*indicators, "above_review_amount"]
    flagged = risk.Assessment(decision, assessment.score, tuple(indicators))
    security_events.record(withdrawal["user_id"], "WITHDRAWAL", withdrawal["amount"], flagged, None, withdrawal["id"])
    return {"decision": str(decision), "score": assessment.score, "indicators": indicators}


def _set_stage(withdrawal: dict[str, Any], stage: str, token: str | None, to_status: TransactionStatus) -> None:
    """Record where the saga waits and how to resume it, only while the withdrawal is open."""
    item = TransactionItem(user_pk(withdrawal["user_id"]), txn_sk(withdrawal["id"]))
    actions: list[Any] = [
        TransactionItem.stage.set(stage),
        TransactionItem.status.set(str(to_status)),
        TransactionItem.updated_at.set(utcnow()),
    ]
    actions.append(TransactionItem.task_token.set(token) if token else TransactionItem.task_token.remove())
    try:
        item.update(actions=actions, condition=TransactionItem.status.is_in(*OPEN))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise PayoutRejectedError(f"withdrawal {withdrawal['id']} is no longer open") from None
        raise


def await_decision(event: dict[str, Any]) -> dict[str, Any]:
    """Store the task token; the execution waits until an admin approves or rejects."""
    withdrawal = event["withdrawal"]
    current = _load(withdrawal["user_id"], withdrawal["id"])
    _set_stage(withdrawal, event["stage"], event["task_token"], TransactionStatus(current.status))
    logger.info("withdrawal waits for an admin", extra={"withdrawal_id": withdrawal["id"], "stage": event["stage"]})
    return {"waiting": event["stage"]}


def request_payout(event: dict[str, Any]) -> dict[str, Any]:
    """Store the task token FIRST (a fast webhook must find it), then ask the gateway to pay out."""
    withdrawal = event["withdrawal"]
    _set_stage(withdrawal, "PAYOUT_REQUESTED", event["task_token"], PROCESSING)
    item = _load(withdrawal["user_id"], withdrawal["id"])
    method = methods.get_method(withdrawal["user_id"], item.payment_method_id or "")
    gateway = registry.build(GatewayName(item.gateway or method.gateway))
    request = PayoutRequest(
        reference=withdrawal["id"],
        amount_minor=withdrawal["amount"],
        currency=withdrawal["currency"],
        method_type=MethodType(method.type),
        destination_token=methods.method_token(method),
        description=item.description,
    )
    try:
        result = gateway.payout(request)
    except GatewayUnavailable as exc:
        raise TransientGatewayError(str(exc)) from None
    except GatewayRejected as exc:
        raise PayoutRejectedError(str(exc)) from None
    TransactionItem(user_pk(withdrawal["user_id"]), txn_sk(withdrawal["id"])).update(
        actions=[TransactionItem.gateway_payout_id.set(result.payout_id)]
    )
    return {"payout_id": result.payout_id, "status": result.status}


def verify_payout(event: dict[str, Any]) -> dict[str, Any]:
    """After a timeout or an error while waiting: ask the gateway where the payout stands."""
    withdrawal = event["withdrawal"]
    item = _load(withdrawal["user_id"], withdrawal["id"])
    if not item.gateway_payout_id:
        return {"outcome": "not_sent"}
    try:
        result = registry.build(GatewayName(item.gateway or "mock")).payout_status(item.gateway_payout_id)
    except GatewayUnavailable as exc:
        raise TransientGatewayError(str(exc)) from None
    outcome = {"PROCESSED": "processed", "FAILED": "failed"}.get(result.status, "pending")
    return {"outcome": outcome, "gateway_status": result.status}


def settle(event: dict[str, Any]) -> dict[str, Any]:
    withdrawal = event["withdrawal"]
    change = StatusChange(withdrawal["id"], OPEN, TransactionStatus.COMPLETED, attributes=(("stage", "SETTLED"),))
    with suppress(AlreadyApplied):  # a retried step: it was settled already
        Ledger().settle_locked(withdrawal["user_id"], withdrawal["amount"], change)
    metrics.add_metric(name="WithdrawalSettled", unit="Count", value=1)
    return {"settled": True}


def _release_reason(event: dict[str, Any]) -> tuple[TransactionStatus, str]:
    if event.get("approval", {}).get("approved") is False or event.get("review", {}).get("approved") is False:
        return TransactionStatus.CANCELLED, "rejected by an admin"
    if event.get("risk", {}).get("decision") == "block":
        return TransactionStatus.FAILED, "blocked by risk checks"
    payout = event.get("payout") or {}
    if payout.get("outcome") in ("failed", "reversed"):
        return TransactionStatus.FAILED, payout.get("reason") or f"payout {payout['outcome']}"
    error = event.get("error") or {}
    if error.get("Error") == "States.Timeout":
        return TransactionStatus.FAILED, "no payout confirmation in time; the payout was not made"
    if error:
        return TransactionStatus.FAILED, f"withdrawal could not be completed ({error.get('Error')})"
    return TransactionStatus.FAILED, "payout failed"


def release(event: dict[str, Any]) -> dict[str, Any]:
    withdrawal = event["withdrawal"]
    to_status, reason = _release_reason(event)
    change = StatusChange(withdrawal["id"], OPEN, to_status, failure_reason=reason, attributes=(("stage", "RELEASED"),))
    item = _load(withdrawal["user_id"], withdrawal["id"])
    give_back = LimitCharge.give_back(withdrawal["amount"], item.limit_day, item.limit_month)
    with suppress(AlreadyApplied):  # a retried step: it was released already
        Ledger().unlock(withdrawal["user_id"], withdrawal["amount"], change, limit=give_back)
    metrics.add_metric(name="WithdrawalReleased", unit="Count", value=1)
    return {"released": True, "reason": reason}


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
    item = find(reference) if reference else None
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
