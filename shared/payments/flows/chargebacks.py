"""Chargebacks (disputes) raised by the card network through the gateway's webhooks.

A chargeback locks the disputed amount (so it cannot be withdrawn while the dispute runs); won
releases it, lost settles it. When the wallet no longer holds the amount, what is available is
locked and the rest is recorded as ``shortfall`` on the chargeback, flagged for review: the
wallet never goes negative, and the debt is visible to operations (metric ChargebackShortfall).
"""

from __future__ import annotations

from payments.core.clock import Deadline, utcnow
from payments.core.errors import InsufficientBalance, LedgerConflict, ServiceBusy
from payments.flows import recovery
from payments.gateways import registry
from payments.gateways.base import DisputeStatus, GatewayName
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction, StatusChange, audited
from payments.platform.observability import logger, metrics
from payments.store.ledger_table import TransactionItem, current_wallet, find_by_order, find_by_reference


def on_dispute_created(
    gateway: str, order_id: str | None, dispute_id: str, amount: int | None, currency: str | None
) -> str:
    """Lock the disputed amount once; a re-delivery (even after the wallet changed) is a no-op."""
    deposit = find_by_order(gateway, order_id) if order_id else None
    if deposit is None:
        return "unknown_order"
    if currency and currency.upper() != deposit.currency:
        metrics.add_metric(name="DisputeEventMismatch", unit="Count", value=1)
        logger.error("dispute currency differs from the deposit; not applied", extra={"dispute_id": dispute_id})
        return "mismatch"
    if deposit.status != TransactionStatus.COMPLETED:
        # The money never reached the wallet (still pending, failed, or returned): nothing of it
        # can be locked there. Operations see it; the gateway's dispute runs without us.
        metrics.add_metric(name="DisputeOnUncreditedDeposit", unit="Count", value=1)
        logger.error("dispute on a deposit that was never credited", extra={"dispute_id": dispute_id})
        return "dispute_on_uncredited_deposit"
    disputed = amount if amount is not None else deposit.amount
    for _ in range(3):  # the wallet may change between reading it and locking: try again
        outcome = _lock_dispute(gateway, deposit, dispute_id, disputed, current_wallet(deposit.user_id).available)
        if outcome is not None:
            return outcome
    # A verified event is never refused (4xx stops the gateway's retries): ask for a redelivery.
    raise ServiceBusy("The wallet kept changing while the dispute was being locked")


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
            *recovery.tracked(recovery.DISPUTE, chargeback_id, utcnow()),
        ),
        referable=True,
    )
    try:
        if locked == 0:  # nothing left to lock: the chargeback is recorded with its shortfall only
            Ledger().open(deposit.user_id, 0, change)
        else:
            Ledger().lock(deposit.user_id, locked, change)
    except InsufficientBalance:
        return None
    except LedgerConflict:  # recorded before (this is a re-delivery): whatever was locked then stands
        return "already_applied"
    if shortfall:
        metrics.add_metric(name="ChargebackShortfall", unit="Count", value=1)
        logger.error("chargeback exceeds the wallet", extra={"chargeback_id": chargeback_id, "shortfall": shortfall})
    return "dispute_locked"


def on_dispute_closed(dispute_id: str, won: bool) -> str:
    chargeback = find_by_reference(f"cb_{dispute_id}")
    if chargeback is None:
        return "unknown_dispute"
    locked = chargeback.amount
    to_status = TransactionStatus.REVERSED if won else TransactionStatus.COMPLETED
    change = StatusChange(
        chargeback.txn_id,
        (TransactionStatus.PENDING,),
        to_status,
        currency=chargeback.currency,
        attributes=(("stage", "WON" if won else "LOST"),),
        **audited(chargeback),
    )
    ledger = Ledger()
    try:
        if locked == 0:
            ledger.transition(chargeback.user_id, change)
        elif won:
            ledger.unlock(chargeback.user_id, locked, change)
        else:
            ledger.settle_locked(chargeback.user_id, locked, change)
    except LedgerConflict:  # closed before: a re-delivery
        return "already_applied"
    return "dispute_won" if won else "dispute_lost"


def recover(chargeback: TransactionItem, deadline: Deadline) -> str:
    """An open dispute the recovery job found due: ask the gateway whether it was decided (its
    webhook may have been lost); still open ones are looked at again later."""
    if chargeback.status != TransactionStatus.PENDING or not chargeback.dispute_id:
        return "already_settled"
    gateway = registry.build(GatewayName(chargeback.gateway or "mock"), timeout_s=deadline.budget(8.0, 2.0))
    try:
        status = gateway.dispute_status(chargeback.dispute_id)
    except (GatewayUnavailable, GatewayRejected) as exc:
        logger.warning(
            "dispute recovery could not ask the gateway", extra={"dispute_id": chargeback.dispute_id, "error": str(exc)}
        )
        recovery.postpone(chargeback, recovery.DISPUTE)
        return "gateway_error"
    if status is DisputeStatus.OPEN:
        recovery.postpone(chargeback, recovery.DISPUTE)
        return "still_open"
    return on_dispute_closed(chargeback.dispute_id, won=status is DisputeStatus.WON)
