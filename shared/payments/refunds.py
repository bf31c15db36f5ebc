"""Refunds of completed deposits, and chargebacks (disputes) raised by the card network.

A refund debits the wallet and raises the deposit's ``refunded`` counter in ONE ledger write;
the counter's condition (``refunded <= amount - this refund``) makes over-refunding impossible
even for concurrent requests, and the debit's guard refuses it with PAY_002 when the money was
spent. Only then is the gateway asked (idempotency key = refund id). A gateway failure, now or
later by webhook, reverses both in one write. ``refund.processed`` completes the refund.

A chargeback locks the disputed amount (so it cannot be withdrawn while the dispute runs); won
releases it, lost settles it. When the wallet no longer holds the amount, what is available is
locked and the rest is recorded as ``shortfall`` on the chargeback, flagged for review: the
wallet never goes negative, and the debt is visible to operations (metric ChargebackShortfall).
"""

from __future__ import annotations

from typing import Any

from payments import deposits
from payments.caller import Caller
from payments.errors import GatewayError, InsufficientBalance, InvalidAmount, InvalidRequest, LedgerConflict
from payments.gateways import registry
from payments.gateways.base import GatewayName, GatewayRejected, GatewayUnavailable
from payments.ids import new_ulid
from payments.ledger import (
    AlreadyApplied,
    Extra,
    ExtraConditionFailed,
    ExtraUpdate,
    Ledger,
    NewTransaction,
    StatusChange,
)
from payments.ledger_types import TransactionStatus, TransactionType
from payments.models import TransactionItem, current_wallet, reference_key, txn_sk, user_pk
from payments.money import format_minor, parse_amount, to_minor
from payments.observability import logger, metrics

PROCESSING, COMPLETED, FAILED = TransactionStatus.PROCESSING, TransactionStatus.COMPLETED, TransactionStatus.FAILED


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


def request_refund(caller: Caller, deposit_id: str, amount: Any | None, reason: str | None) -> dict[str, Any]:
    deposit = deposits.load(caller.user_id, deposit_id)
    if deposit.status != COMPLETED or not deposit.gateway_payment_id:
        raise InvalidRequest("Only a completed deposit can be refunded", transaction_id=deposit_id)
    remaining = deposit.amount - (deposit.refunded or 0)
    minor = remaining if amount is None else to_minor(parse_amount(amount))
    if minor <= 0 or minor > remaining:
        raise InvalidAmount(f"At most {format_minor(remaining)} of this deposit can still be refunded", field="amount")
    refund_id = f"rf_{new_ulid()}"
    ledger = Ledger()
    change = NewTransaction(
        refund_id,
        TransactionType.REFUND,
        PROCESSING,
        currency=deposit.currency,
        description=reason or f"Refund of {deposit_id}",
        reference_id=deposit_id,
        attributes=(("parent_txn_id", deposit_id), ("gateway", deposit.gateway), ("gsi1pk", reference_key(refund_id))),
    )
    try:
        ledger.debit(caller.user_id, minor, change, (_refunded_counter(deposit, minor),))
    except ExtraConditionFailed:
        raise InvalidAmount("This deposit cannot be refunded by that much any more", field="amount") from None
    except InsufficientBalance:
        raise InsufficientBalance("The wallet no longer holds the amount to refund") from None
    gateway = registry.build(GatewayName(deposit.gateway or "mock"))
    try:
        result = gateway.refund(deposit.gateway_payment_id, minor, deposit.currency, refund_id)
    except (GatewayUnavailable, GatewayRejected) as exc:
        _reverse(caller.user_id, refund_id, f"gateway refused the refund: {exc}")
        raise GatewayError("The gateway did not accept the refund; nothing was refunded", refund_id=refund_id) from None
    TransactionItem(user_pk(caller.user_id), txn_sk(refund_id)).update(
        actions=[TransactionItem.gateway_refund_id.set(result.refund_id)]
    )
    refund = TransactionItem.get(user_pk(caller.user_id), txn_sk(refund_id), consistent_read=True)
    metrics.add_metric(name="RefundRequested", unit="Count", value=1)
    return {
        "success": True,
        "refund_id": refund_id,
        "transaction_id": deposit_id,
        "status": refund.status,
        "amount": format_minor(minor),
        "currency": deposit.currency,
        "gateway_refund_id": result.refund_id,
    }


def _reverse(user_id: str, refund_id: str, reason: str) -> bool:
    """Give a failed refund back: credit the wallet and lower the deposit's counter, once."""
    refund = TransactionItem.get(user_pk(user_id), txn_sk(refund_id), consistent_read=True)
    deposit = TransactionItem.get(user_pk(user_id), txn_sk(refund.parent_txn_id or ""), consistent_read=True)
    change = StatusChange(refund_id, (PROCESSING,), FAILED, failure_reason=reason)
    try:
        Ledger().credit(user_id, refund.amount, change, (_refunded_counter(deposit, -refund.amount),))
    except LedgerConflict:  # already reversed, or completed by the gateway: never credit twice
        return False
    logger.warning("refund reversed", extra={"refund_id": refund_id, "reason": reason})
    return True


def find(reference: str) -> TransactionItem | None:
    for key in TransactionItem.by_order.query(reference_key(reference), limit=1):
        return TransactionItem.get(key.pk, key.sk, consistent_read=True)
    return None


def on_refund_event(reference: str | None, processed: bool, reason: str | None, extra: tuple[Extra, ...]) -> str:
    """``refund.processed`` completes a refund; ``refund.failed`` reverses it. Once each."""
    refund = find(reference) if reference else None
    if refund is None or refund.type != TransactionType.REFUND:
        return "unknown_refund"
    if processed:
        change = StatusChange(refund.txn_id, (PROCESSING,), COMPLETED)
        try:
            Ledger().transition(refund.user_id, change, extra)
        except LedgerConflict:  # completed or reversed before: a replay, nothing to do
            return "already_applied"
        return "refund_completed"
    return (
        "refund_reversed" if _reverse(refund.user_id, refund.txn_id, reason or "refund failed") else "already_applied"
    )


# ---------------------------------------------------------------- chargebacks
def on_dispute_created(gateway: str, order_id: str | None, dispute_id: str, amount: int | None) -> str:
    deposit = deposits.find_by_order(gateway, order_id) if order_id else None
    if deposit is None:
        return "unknown_order"
    disputed = amount if amount is not None else deposit.amount
    for _ in range(3):  # the wallet may change between reading it and locking: try again
        outcome = _lock_dispute(gateway, deposit, dispute_id, disputed, current_wallet(deposit.user_id).available)
        if outcome is not None:
            return outcome
    raise InsufficientBalance("The wallet kept changing while the dispute was being locked")


def _lock_dispute(gateway: str, deposit: TransactionItem, dispute_id: str, disputed: int, available: int) -> str | None:
    """Lock what the wallet holds of the disputed amount; the rest is the recorded shortfall.
    The chargeback's ``amount`` is what the ledger locked."""
    chargeback_id = f"cb_{dispute_id}"
    locked = min(disputed, max(available, 0))
    shortfall = disputed - locked
    change = NewTransaction(
        chargeback_id,
        TransactionType.CHARGEBACK,
        TransactionStatus.PENDING,
        currency=deposit.currency,
        description=f"Dispute {dispute_id} on {deposit.txn_id}",
        reference_id=deposit.txn_id,
        attributes=(
            ("parent_txn_id", deposit.txn_id),
            ("dispute_id", dispute_id),
            ("gateway", gateway),
            ("shortfall", shortfall),
            ("stage", "REVIEW" if shortfall else "DISPUTED"),
            ("gsi1pk", reference_key(chargeback_id)),
        ),
    )
    if locked == 0:  # nothing left to lock: the chargeback is recorded with its shortfall only
        try:
            Ledger().open(deposit.user_id, 0, change)
        except LedgerConflict:
            return "already_applied"
    else:
        try:
            Ledger().lock(deposit.user_id, locked, change)
        except AlreadyApplied:
            return "already_applied"
        except InsufficientBalance:
            return None
    if shortfall:
        metrics.add_metric(name="ChargebackShortfall", unit="Count", value=1)
        logger.error("chargeback exceeds the wallet", extra={"chargeback_id": chargeback_id, "shortfall": shortfall})
    return "dispute_locked"


def on_dispute_closed(dispute_id: str, won: bool) -> str:
    chargeback = find(f"cb_{dispute_id}")
    if chargeback is None:
        return "unknown_dispute"
    locked = chargeback.amount
    to_status = TransactionStatus.REVERSED if won else COMPLETED
    change = StatusChange(
        chargeback.txn_id, (TransactionStatus.PENDING,), to_status, attributes=(("stage", "WON" if won else "LOST"),)
    )
    ledger = Ledger()
    try:
        if locked == 0:
            ledger.transition(chargeback.user_id, change)
        elif won:
            ledger.unlock(chargeback.user_id, locked, change)
        else:
            ledger.settle_locked(chargeback.user_id, locked, change)
    except AlreadyApplied:
        return "already_applied"
    return "dispute_won" if won else "dispute_lost"
