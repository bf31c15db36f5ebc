"""Refunds of completed deposits, and the return of late money to its payer.

A refund debits the wallet and raises the deposit's ``refunded`` counter in ONE ledger write;
the counter's condition (``refunded <= amount - this refund``) makes over-refunding impossible
even for concurrent requests, and the debit's guard refuses it with PAY_002 when the money was
spent. The refund is PROCESSING, on the recovery job's list, before the gateway is asked (its
idempotency key is the refund id). Then the gateway call has three outcomes:

- it refunded (or accepted the refund): the gateway refund id is recorded; PROCESSED completes it;
- it refused (a definite no): the refund is reversed - wallet credited back, counter lowered - once;
- unknown (timeout, reset, 5xx): nothing else changes. The refund stays PROCESSING and the
  recovery job asks the gateway by our reference, or re-sends the identical request under the
  same key, until the gateway says which; ``refund.processed``/``refund.failed`` say it too.

A refund the gateway reports failed after it succeeded (Stripe) is reversed the same way, once.
A late payment over the KYC limit (:mod:`payments.flows.deposits`) is returned with the same
machinery, as a refund that never touched the wallet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from payments.core.caller import Caller
from payments.core.clock import Deadline, utcnow
from payments.core.errors import (
    GatewayError,
    GatewayRefused,
    InsufficientBalance,
    InvalidAmount,
    InvalidRequest,
    LedgerConflict,
)
from payments.core.ids import new_ulid
from payments.core.money import format_minor, parse_amount, to_minor
from payments.flows import deposits, recovery
from payments.gateways import registry
from payments.gateways.base import GatewayName, PaymentInfo, RefundResult
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.ledger.errors import DuplicateRecord, ExtraConditionFailed
from payments.ledger.types import TransactionStatus, TransactionType, payment_return_id, reinstated_refund_id
from payments.ledger.writer import Extra, ExtraPut, ExtraUpdate, Ledger, NewTransaction, StatusChange, audited
from payments.platform.observability import correlate, logger, metrics
from payments.store.ledger_table import TransactionItem, find_by_reference, transaction, txn_sk, user_pk

PROCESSING, COMPLETED, FAILED = TransactionStatus.PROCESSING, TransactionStatus.COMPLETED, TransactionStatus.FAILED


@dataclass(frozen=True)
class RefundRequested:
    """Where a refund stands: PROCESSING until the gateway says, then COMPLETED or FAILED."""

    refund_id: str
    deposit_id: str
    status: str
    amount: int
    currency: str
    gateway_refund_id: str | None


def _refunded_counter(deposit: TransactionItem, delta: int) -> ExtraUpdate:
    item = TransactionItem(deposit.pk, deposit.sk)
    if delta > 0:
        limit = deposit.amount - delta
        condition = (TransactionItem.status == str(COMPLETED)) & (
            TransactionItem.refunded.does_not_exist() | (TransactionItem.refunded <= limit)
        )
    else:
        condition = TransactionItem.refunded >= -delta
    return ExtraUpdate(item, (TransactionItem.refunded.add(delta),), condition, "deposit")


def request_refund(
    caller: Caller,
    deposit_id: str,
    amount: Any | None,
    reason: str | None,
    operation_id: str | None = None,
    deadline: Deadline | None = None,
) -> RefundRequested:
    """Debit and record the refund, then send it. With ``operation_id`` (from the client's
    Idempotency-Key) a retry resumes the refund it started: it is never debited or sent twice."""
    deadline = deadline or Deadline()
    refund_id = operation_id or f"rf_{new_ulid()}"
    correlate(refund_id, deposit_id=deposit_id)
    existing = transaction(caller.user_id, refund_id) if operation_id else None
    if existing is not None:
        if existing.type != TransactionType.REFUND or existing.parent_txn_id != deposit_id:
            raise InvalidRequest("This Idempotency-Key belongs to another operation")
        return _progress(existing, deadline)
    deposit = deposits.load(caller.user_id, deposit_id)
    if deposit.status != COMPLETED or not deposit.gateway_payment_id:
        raise InvalidRequest("Only a completed deposit can be refunded", transaction_id=deposit_id)
    remaining = deposit.amount - (deposit.refunded or 0)
    minor = remaining if amount is None else to_minor(parse_amount(amount))
    if minor <= 0 or minor > remaining:
        raise InvalidAmount(f"At most {format_minor(remaining)} of this deposit can still be refunded", field="amount")
    change = NewTransaction(
        refund_id,
        TransactionType.REFUND,
        PROCESSING,
        currency=deposit.currency,
        description=reason or f"Refund of {deposit_id}",
        reference_id=deposit_id,
        attributes=(
            ("parent_txn_id", deposit_id),
            ("gateway", deposit.gateway),
            ("wallet_debited", True),
            *recovery.tracked(recovery.REFUND, refund_id, utcnow()),
        ),
        referable=True,
    )
    try:
        Ledger().debit(caller.user_id, minor, change, (_refunded_counter(deposit, minor),))
    except ExtraConditionFailed:
        raise InvalidAmount("This deposit cannot be refunded by that much any more", field="amount") from None
    except InsufficientBalance:
        raise InsufficientBalance("The wallet no longer holds the amount to refund") from None
    except LedgerConflict:  # the same operation, written by a request running at the same time
        return _progress(transaction(caller.user_id, refund_id) or _missing(refund_id), deadline)
    metrics.add_metric(name="RefundRequested", unit="Count", value=1)
    logger.info("refund debited; sending it to the gateway", extra={"amount": minor})
    return _progress(transaction(caller.user_id, refund_id) or _missing(refund_id), deadline)


def _missing(refund_id: str) -> TransactionItem:
    raise LedgerConflict("The refund record could not be read back", refund_id=refund_id)


def _progress(refund: TransactionItem, deadline: Deadline) -> RefundRequested:
    """Send a refund that was not sent (or whose sending has no known outcome), then report it."""
    if refund.status == PROCESSING and not refund.gateway_refund_id:
        send(refund, deadline)
        refund = transaction(refund.user_id, refund.txn_id) or refund
    if refund.status == FAILED:  # refused or failed at the gateway, and credited back...
        again = transaction(refund.user_id, reinstated_refund_id(refund.txn_id))
        if again is not None:  # ...unless the gateway made it after all: it was taken again
            return RefundRequested(
                refund.txn_id,
                refund.parent_txn_id or "",
                again.status,
                again.amount,
                again.currency,
                again.gateway_refund_id,
            )
        known = {"gateway_refund_id": refund.gateway_refund_id} if refund.gateway_refund_id else {}
        raise GatewayRefused(
            "The gateway did not make the refund; the amount is back in the wallet",
            refund_id=refund.txn_id,
            transaction_id=refund.parent_txn_id or "",
            status=str(FAILED),
            amount=format_minor(refund.amount),
            currency=refund.currency,
            reason=refund.failure_reason or "refused",
            **known,
        )
    return RefundRequested(
        refund.txn_id,
        refund.parent_txn_id or "",
        refund.status,
        refund.amount,
        refund.currency,
        refund.gateway_refund_id,
    )


def send(refund: TransactionItem, deadline: Deadline) -> str:
    """Ask the gateway to refund under our refund id; act only on a definite answer."""
    deposit = TransactionItem.get(user_pk(refund.user_id), txn_sk(refund.parent_txn_id or ""), consistent_read=True)
    gateway = registry.build(GatewayName(refund.gateway or deposit.gateway or "mock"), timeout_s=_budget(deadline))
    payment_id = refund.gateway_payment_id or deposit.gateway_payment_id or ""
    try:
        result = gateway.refund(payment_id, refund.amount, refund.currency, refund.txn_id)
    except GatewayRejected as exc:
        # A "no" may answer a re-send while an earlier attempt (timed out, or still being
        # processed) made the refund: only the gateway having none under our reference is a no.
        try:
            found = gateway.find_refund(payment_id, refund.txn_id)
        except (GatewayUnavailable, GatewayRejected) as lookup:
            return _unknown(refund, lookup)
        if found is None:
            reverse(refund, f"the gateway refused the refund: {exc}")
            return "refused"
        result = found
    except GatewayUnavailable as exc:
        return _unknown(refund, exc)
    return _record_sent(refund, result)


def _unknown(refund: TransactionItem, error: Exception) -> str:
    metrics.add_metric(name="RefundOutcomeUnknown", unit="Count", value=1)
    logger.warning(
        "refund outcome unknown; it stays in flight", extra={"refund_id": refund.txn_id, "error": str(error)}
    )
    return "unknown"


def _budget(deadline: Deadline) -> float:
    return deadline.budget(deposits.GATEWAY_TIMEOUT_S, deposits.RESERVE_S)


def _record_sent(refund: TransactionItem, result: RefundResult) -> str:
    """What the gateway answered: processed completes, failed reverses, pending waits."""
    if result.status == "FAILED":
        failed = reverse(refund, "the gateway could not refund", _known_as(result.refund_id))
        return "refund_reversed" if failed else "already_applied"
    attributes = (("gateway_refund_id", result.refund_id),)
    if result.status == "PROCESSED":
        return _complete(refund, attributes)
    try:
        TransactionItem(refund.pk, refund.sk).update(
            actions=[TransactionItem.gateway_refund_id.set(result.refund_id), TransactionItem.updated_at.set(utcnow())],
            condition=TransactionItem.status == str(PROCESSING),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return "already_applied"  # its webhook settled it while we were asking: that answer stands
    return "sent"


def _complete(refund: TransactionItem, attributes: tuple[tuple[str, Any], ...], extra: tuple[Extra, ...] = ()) -> str:
    change = StatusChange(refund.txn_id, (PROCESSING,), COMPLETED, attributes=attributes, **audited(refund))
    try:
        Ledger().transition(refund.user_id, change, extra)
    except DuplicateRecord:
        raise
    except LedgerConflict:  # completed or reversed before: a replay, nothing to do
        return "already_applied"
    return "refund_completed"


def reverse(refund: TransactionItem, reason: str, attributes: tuple[tuple[str, Any], ...] = ()) -> bool:
    """A refund that did not happen, or failed after it had: the money is ours again. A wallet
    refund is credited back and the deposit's counter lowered, once (the reversal is the
    refund's CREDIT entry); a returned late payment goes to review, since the payer has it neither
    back nor in the wallet."""
    fresh = transaction(refund.user_id, refund.txn_id) or refund
    if fresh.status not in (PROCESSING, COMPLETED):
        return False
    if fresh.gateway_refund_id:  # the id the gateway first gave stays; another attempt's does not erase it
        attributes = tuple((name, value) for name, value in attributes if name != "gateway_refund_id")
    change = StatusChange(
        fresh.txn_id,
        (PROCESSING, COMPLETED),
        FAILED,
        currency=fresh.currency,
        failure_reason=reason,
        attributes=attributes,
        **audited(fresh),
    )
    if fresh.wallet_debited is False:
        try:
            Ledger().transition(fresh.user_id, change)
        except LedgerConflict:
            return False
        metrics.add_metric(name="LatePaymentReturnFailed", unit="Count", value=1)
        logger.error("a late payment could not be returned; review it", extra={"refund_id": fresh.txn_id})
        return True
    deposit = TransactionItem.get(user_pk(fresh.user_id), txn_sk(fresh.parent_txn_id or ""), consistent_read=True)
    try:
        Ledger().credit(fresh.user_id, fresh.amount, change, (_refunded_counter(deposit, -fresh.amount),))
    except LedgerConflict:  # reversed already: never credit twice
        return False
    logger.warning("refund reversed", extra={"refund_id": fresh.txn_id, "reason": reason})
    return True


def on_refund_event(
    event_reference: str | None,
    processed: bool,
    reason: str | None,
    amount: int | None,
    currency: str | None,
    gateway_refund_id: str | None,
) -> str:
    """``refund.processed`` completes a refund; ``refund.failed`` reverses it (also after it had
    completed). Once each; an amount, a currency or a gateway refund other than ours is not applied."""
    refund = find_by_reference(event_reference) if event_reference else None
    if refund is None or refund.type != TransactionType.REFUND:
        return "unknown_refund"
    other = gateway_refund_id and refund.gateway_refund_id and gateway_refund_id != refund.gateway_refund_id
    if other or (amount is not None and amount != refund.amount) or (currency and currency.upper() != refund.currency):
        # Another gateway refund under our reference (a duplicate attempt failing says nothing of
        # the one that was made), or other money: not applied, flagged.
        metrics.add_metric(name="RefundEventMismatch", unit="Count", value=1)
        logger.error("refund event differs from our refund; not applied", extra={"refund_id": refund.txn_id})
        return "mismatch"
    if processed and refund.status == FAILED:
        # Reversed here, "processed" there: either the gateway made it after refusing (reinstate),
        # or this event is older than the failure that reversed it (webhooks come in any order).
        # The gateway's current answer decides, not the event.
        if not _made_after_all(refund):
            return "already_applied"
        return _reinstate(refund, gateway_refund_id)
    if processed:
        return _complete(refund, _known_as(gateway_refund_id))
    failed = reverse(refund, reason or "refund failed", _known_as(gateway_refund_id))
    return "refund_reversed" if failed else "already_applied"


def _known_as(gateway_refund_id: str | None) -> tuple[tuple[str, Any], ...]:
    """The gateway's id for our refund, recorded with the outcome it came with."""
    return (("gateway_refund_id", gateway_refund_id),) if gateway_refund_id else ()


def _made_after_all(refund: TransactionItem) -> bool:
    deposit = TransactionItem.get(user_pk(refund.user_id), txn_sk(refund.parent_txn_id or ""), consistent_read=True)
    gateway = registry.build(GatewayName(refund.gateway or deposit.gateway or "mock"))
    try:
        found = gateway.find_refund(refund.gateway_payment_id or deposit.gateway_payment_id or "", refund.txn_id)
    except (GatewayUnavailable, GatewayRejected):
        raise GatewayError("The gateway could not confirm the refund; deliver the event again") from None
    return found is not None and found.status == "PROCESSED"


def _reinstate(refund: TransactionItem, gateway_refund_id: str | None) -> str:
    """The gateway says it made a refund we had reversed (it refused, then made it after all):
    the payer has the money back, so the wallet gives it up again, once, as its own entry. A late
    payment's return never touched the wallet: it is simply completed."""
    attributes = (("gateway_refund_id", gateway_refund_id),) if gateway_refund_id else ()
    metrics.add_metric(name="RefundMadeAfterReversal", unit="Count", value=1)
    logger.error("the gateway made a refund we had reversed", extra={"refund_id": refund.txn_id})
    if refund.wallet_debited is False:
        change = StatusChange(refund.txn_id, (FAILED,), COMPLETED, attributes=attributes, **audited(refund))
        try:
            Ledger().transition(refund.user_id, change)
        except LedgerConflict:
            return "already_applied"
        return "refund_reinstated"
    again = NewTransaction(
        reinstated_refund_id(refund.txn_id),
        TransactionType.REFUND,
        COMPLETED,
        currency=refund.currency,
        description=f"Refund {refund.txn_id} made by the gateway after it was reversed",
        reference_id=refund.txn_id,
        attributes=(("parent_txn_id", refund.parent_txn_id), *attributes),
    )
    if transaction(refund.user_id, again.txn_id) is not None:
        return "already_applied"
    deposit = TransactionItem.get(user_pk(refund.user_id), txn_sk(refund.parent_txn_id or ""), consistent_read=True)
    try:
        Ledger().debit(refund.user_id, refund.amount, again, (_refunded_counter(deposit, refund.amount),))
    except (InsufficientBalance, ExtraConditionFailed):
        metrics.add_metric(name="RefundReinstateShortfall", unit="Count", value=1)
        logger.error(
            "the wallet no longer holds a refund the gateway made; review it", extra={"refund_id": refund.txn_id}
        )
        return "reinstate_short"
    except LedgerConflict:
        return "already_applied"
    return "refund_reinstated"


def return_late_payment(deposit: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...], why: str) -> str:
    """Send a payment back that arrived after its deposit closed and cannot be credited (``why``:
    over the KYC limits, another amount): the deposit becomes REVERSED and a refund that never
    touches the wallet is sent, with every guarantee of a refund (in flight until the gateway
    answers)."""
    reversed_deposit = ExtraUpdate(
        TransactionItem(deposit.pk, deposit.sk),
        (
            TransactionItem.status.set(str(TransactionStatus.REVERSED)),
            TransactionItem.gateway_payment_id.set(info.payment_id),
            TransactionItem.failure_reason.set(f"paid after the deposit closed; {why}: returned"),
            TransactionItem.updated_at.set(utcnow()),
        ),
        TransactionItem.status == str(FAILED),
        "deposit",
    )
    description = f"Late payment for {deposit.txn_id} returned: {why}"
    outcome = _return_payment(deposit, info, payment_return_id(deposit.txn_id), description, (*extra, reversed_deposit))
    if outcome == "returned":
        metrics.add_metric(name="LatePaymentReturned", unit="Count", value=1)
        logger.warning(
            "a payment arrived after its deposit closed, over the limit: returned",
            extra={"transaction_id": deposit.txn_id},
        )
    return outcome


def return_second_payment(deposit: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...]) -> str:
    """A second payment captured for a deposit another payment settled: the wallet was credited
    once, so this one goes back to its payer, once (keyed by the payment)."""
    description = f"Second payment {info.payment_id} for {deposit.txn_id} returned"
    outcome = _return_payment(deposit, info, payment_return_id(info.payment_id), description, extra)
    if outcome == "returned":
        metrics.add_metric(name="SecondPaymentReturned", unit="Count", value=1)
        logger.warning("a second payment for a settled deposit: returned", extra={"transaction_id": deposit.txn_id})
        return "second_payment_returned"
    return outcome


def _return_payment(
    deposit: TransactionItem, info: PaymentInfo, return_id: str, description: str, extra: tuple[Extra, ...]
) -> str:
    change = NewTransaction(
        return_id,
        TransactionType.REFUND,
        PROCESSING,
        currency=deposit.currency,
        description=description,
        reference_id=deposit.txn_id,
        attributes=(
            ("parent_txn_id", deposit.txn_id),
            ("gateway", deposit.gateway),
            ("gateway_payment_id", info.payment_id),
            ("wallet_debited", False),
            *recovery.tracked(recovery.REFUND, return_id, utcnow()),
        ),
        referable=True,
    )
    try:
        Ledger().open(deposit.user_id, info.amount_minor, change, extra=extra)
    except DuplicateRecord:
        raise
    except LedgerConflict:
        return "already_applied"
    returned = transaction(deposit.user_id, return_id)
    if returned is not None:
        send(returned, Deadline())
    return "returned"


def recover(refund: TransactionItem, deadline: Deadline) -> str:
    """A PROCESSING refund the recovery job found due: ask the gateway by our reference; a refund
    it does not know was never made, so it is sent now (same key); pending ones wait."""
    if refund.status != PROCESSING:
        return "already_settled"
    deposit = TransactionItem.get(user_pk(refund.user_id), txn_sk(refund.parent_txn_id or ""), consistent_read=True)
    gateway = registry.build(GatewayName(refund.gateway or deposit.gateway or "mock"), timeout_s=_budget(deadline))
    try:
        found = gateway.find_refund(refund.gateway_payment_id or deposit.gateway_payment_id or "", refund.txn_id)
    except (GatewayUnavailable, GatewayRejected) as exc:
        logger.warning(
            "refund recovery could not ask the gateway", extra={"refund_id": refund.txn_id, "error": str(exc)}
        )
        recovery.postpone(refund, recovery.REFUND)
        return "gateway_error"
    outcome = send(refund, deadline) if found is None else _record_sent(refund, found)
    if outcome in ("unknown", "sent"):
        recovery.postpone(refund, recovery.REFUND)
    return outcome
