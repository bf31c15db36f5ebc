"""The steps of the withdrawal saga (``statemachines/withdrawal.asl.json``), one Lambda each.

Every path ends in exactly one of SETTLE (locked -> paid out) or UNLOCK (locked -> available),
both keyed by the withdrawal so a retried step or a duplicate webhook cannot apply them twice.
Waiting states keep their task token on the withdrawal; whoever resumes them (payout webhook,
admin, recovery job) first claims it with a condition, so a saga is resumed exactly once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pynamodb.exceptions import UpdateError

from payments.audit import records
from payments.core.caller import KycLevel
from payments.core.clock import Deadline, utcnow
from payments.core.money import to_minor
from payments.flows import methods, withdrawals
from payments.flows.errors import PayoutRejectedError, TransientGatewayError
from payments.gateways import registry
from payments.gateways.base import GatewayName, MethodType, PayoutRequest
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, RefusedBeforeSending
from payments.kyc.tiers import limits_for
from payments.ledger.types import TransactionStatus
from payments.platform.observability import logger
from payments.platform.settings import settings
from payments.store.ledger_table import TransactionItem, txn_sk, user_pk


def _audit_step(withdrawal: dict[str, Any], event_type: str, status: str | None, **details: Any) -> None:
    """A saga step that moves no money, in the user's audit chain (settle and release are audited
    with their ledger write). Written before the step answers: a step that dies after its effect
    is retried by the state machine, and its record written then."""
    records.record_event(
        event_type,
        withdrawal["user_id"],
        transaction_id=withdrawal["id"],
        amount=withdrawal["amount"],
        currency=withdrawal["currency"],
        status=status,
        details=details,
    )


def risk_check(event: dict[str, Any]) -> dict[str, Any]:
    """The fraud engine, plus the review threshold: a large withdrawal always waits for an admin."""
    from payments.guards import risk, security_events

    withdrawal = event["withdrawal"]
    now = utcnow()
    tier = limits_for(KycLevel(withdrawal.get("kyc_level", "BASIC")))
    item = withdrawals.load(withdrawal["user_id"], withdrawal["id"])
    method = methods.get_method(withdrawal["user_id"], item.payment_method_id or "")
    history = [m for m in risk.recent_history(withdrawal["user_id"], now) if m.at < item.created_at]
    assessment = risk.assess(
        "WITHDRAWAL", withdrawal["amount"], now, history, tier.single_transaction, tier.daily_limit, method.created_at
    )
    threshold = to_minor(Decimal(settings.withdrawal_review_amount))
    indicators = list(assessment.indicators)
    decision = assessment.decision
    if withdrawal["amount"] >= threshold and decision == risk.Decision.ALLOW:
        decision, indicators = risk.Decision.REVIEW, [*indicators, "above_review_amount"]
    flagged = risk.Assessment(decision, assessment.score, tuple(indicators))
    security_events.record(withdrawal["user_id"], "WITHDRAWAL", withdrawal["amount"], flagged, None, withdrawal["id"])
    _audit_step(
        withdrawal, "withdrawal_risk_checked", str(decision), score=assessment.score, indicators=",".join(indicators)
    )
    return {"decision": str(decision), "score": assessment.score, "indicators": indicators}


def _set_stage(withdrawal: dict[str, Any], stage: str, token: str | None, to_status: TransactionStatus) -> None:
    """Record where the saga waits and how to resume it, only while the withdrawal is open. A new
    token clears any claim of the token before it."""
    item = TransactionItem(user_pk(withdrawal["user_id"]), txn_sk(withdrawal["id"]))
    actions: list[Any] = [
        TransactionItem.stage.set(stage),
        TransactionItem.status.set(str(to_status)),
        TransactionItem.updated_at.set(utcnow()),
        TransactionItem.task_claim.remove(),
        TransactionItem.claimed_at.remove(),
    ]
    actions.append(TransactionItem.task_token.set(token) if token else TransactionItem.task_token.remove())
    if stage == "PAYOUT_REQUESTED":  # every attempt: "no payout" is concluded only well after the last
        actions += [TransactionItem.payout_sent_at.set(utcnow()), TransactionItem.payout_attempts.add(1)]
    try:
        item.update(actions=actions, condition=TransactionItem.status.is_in(*withdrawals.OPEN))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise PayoutRejectedError(f"withdrawal {withdrawal['id']} is no longer open") from None
        raise


def await_decision(event: dict[str, Any]) -> dict[str, Any]:
    """Store the task token; the execution waits until an admin (or the gateway's answer, in
    manual review) decides."""
    withdrawal = event["withdrawal"]
    current = withdrawals.load(withdrawal["user_id"], withdrawal["id"])
    _set_stage(withdrawal, event["stage"], event["task_token"], TransactionStatus(current.status))
    _audit_step(withdrawal, "withdrawal_awaiting_decision", event["stage"])
    logger.info("withdrawal waits for an admin", extra={"withdrawal_id": withdrawal["id"], "stage": event["stage"]})
    return {"waiting": event["stage"]}


def request_payout(event: dict[str, Any]) -> dict[str, Any]:
    """Store the task token FIRST (a fast webhook must find it), then ask the gateway to pay out
    under our withdrawal id. A refusal releases the funds; an unknown outcome is retried with the
    same key (the gateway answers with the first result) and then verified by our reference."""
    withdrawal = event["withdrawal"]
    _set_stage(withdrawal, "PAYOUT_REQUESTED", event["task_token"], TransactionStatus.PROCESSING)
    item = withdrawals.load(withdrawal["user_id"], withdrawal["id"])
    method = methods.get_method(withdrawal["user_id"], item.payment_method_id or "")
    gateway = registry.build(GatewayName(item.gateway or method.gateway))
    request = PayoutRequest(
        reference=withdrawal["id"],
        amount_minor=withdrawal["amount"],
        currency=withdrawal["currency"],
        method_type=MethodType(method.type),
        destination_token=methods.method_token(method),
        description=item.description,
        customer_id=withdrawal["user_id"],
    )
    try:
        try:
            result = gateway.payout(request)
        except RefusedBeforeSending as exc:
            raise PayoutRejectedError(str(exc)) from None
        except GatewayRejected as exc:
            # A "no" may answer a retry while an earlier attempt (timed out) made the payout:
            # only the gateway having none under our reference makes it a no.
            found = gateway.find_payout(request.reference, item.created_at)
            if found is None and int(item.payout_attempts or 1) > 1:
                # An earlier attempt may still be processed: let VerifyPayout conclude, later.
                raise GatewayUnavailable(f"refused on attempt {item.payout_attempts}: {exc}") from None
            if found is None:
                raise PayoutRejectedError(str(exc)) from None
            result = found
    except (GatewayUnavailable, GatewayRejected) as exc:  # the attempt, or the lookup, has no answer
        raise TransientGatewayError(str(exc)) from None
    try:
        TransactionItem(user_pk(withdrawal["user_id"]), txn_sk(withdrawal["id"])).update(
            actions=[TransactionItem.gateway_payout_id.set(result.payout_id)],
            condition=TransactionItem.status.is_in(*withdrawals.OPEN),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    _audit_step(
        withdrawal, "withdrawal_payout_requested", result.status, payout_id=result.payout_id, gateway=gateway.name
    )
    return {"payout_id": result.payout_id, "status": result.status}


def verify_payout(event: dict[str, Any]) -> dict[str, Any]:
    """After a timeout or an error while waiting: ask the gateway where the payout stands, by its
    id or, when no id was recorded, by our reference. "not_sent" only when the gateway confirms
    it has no payout for us; when it cannot be asked, the step fails and the saga retries."""
    withdrawal = event["withdrawal"]
    item = withdrawals.load(withdrawal["user_id"], withdrawal["id"])
    outcome = withdrawals.payout_outcome(item, Deadline())
    if outcome == "unknown":
        raise TransientGatewayError(f"payout of {item.txn_id} could not be verified")
    answer = {"not_requested": "not_sent"}.get(outcome, outcome)
    _audit_step(withdrawal, "withdrawal_payout_verified", answer)
    return {"outcome": answer}


def settle(event: dict[str, Any]) -> dict[str, Any]:
    """Locked -> paid out, once; a withdrawal settled before (a retried step, or the webhook
    applied it) is done."""
    withdrawal = event["withdrawal"]
    item = withdrawals.load(withdrawal["user_id"], withdrawal["id"])
    if item.status == TransactionStatus.COMPLETED:
        return {"settled": True}
    if item.status not in withdrawals.OPEN:
        raise PayoutRejectedError(f"withdrawal {item.txn_id} was released; its payout needs review")
    withdrawals.settle_funds(withdrawal["user_id"], withdrawal["id"], withdrawal["amount"], withdrawal["currency"])
    return {"settled": True}


def _release_reason(event: dict[str, Any]) -> tuple[TransactionStatus, str]:
    if event.get("approval", {}).get("approved") is False or event.get("review", {}).get("approved") is False:
        return TransactionStatus.CANCELLED, "rejected by an admin"
    if event.get("risk", {}).get("decision") == "block":
        return TransactionStatus.FAILED, "blocked by risk checks"
    payout = event.get("payout") or {}
    if payout.get("outcome") in ("failed", "reversed"):
        return TransactionStatus.FAILED, payout.get("reason") or f"payout {payout['outcome']}"
    if (event.get("verify") or {}).get("outcome") in ("failed", "not_sent"):
        return TransactionStatus.FAILED, "the gateway confirms no payout was made"
    error = event.get("error") or {}
    if error:
        return TransactionStatus.FAILED, f"withdrawal could not be completed ({error.get('Error')})"
    return TransactionStatus.FAILED, "payout failed"


def release(event: dict[str, Any]) -> dict[str, Any]:
    """Locked -> available, once; a withdrawal already final is done (released or settled by the
    webhook or the recovery job - never both: the other's ledger write is refused)."""
    withdrawal = event["withdrawal"]
    to_status, reason = _release_reason(event)
    withdrawals.release_funds(
        withdrawal["user_id"], withdrawal["id"], withdrawal["amount"], withdrawal["currency"], to_status, reason
    )
    return {"released": True, "reason": reason}
