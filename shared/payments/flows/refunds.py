"""Refunds of completed deposits.

A refund debits the wallet and raises the deposit's ``refunded`` counter in ONE ledger write;
the counter's condition (``refunded <= amount - this refund``) makes over-refunding impossible
even for concurrent requests, and the debit's guard refuses it with PAY_002 when the money was
spent. Only then is the gateway asked (idempotency key = refund id). A gateway failure, now or
later by webhook, reverses both in one write. ``refund.processed`` completes the refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments.core.caller import Caller
from payments.core.errors import GatewayError, InsufficientBalance, InvalidAmount, InvalidRequest, LedgerConflict
from payments.core.ids import new_ulid
from payments.core.money import format_minor, parse_amount, to_minor
from payments.flows import deposits
from payments.gateways import registry
from payments.gateways.base import GatewayName
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.ledger.errors import ExtraConditionFailed
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Extra, ExtraUpdate, Ledger, NewTransaction, StatusChange
from payments.platform.observability import logger, metrics
from payments.store.ledger_table import TransactionItem, find_by_reference, reference_key, txn_sk, user_pk

PROCESSING, COMPLETED, FAILED = TransactionStatus.PROCESSING, TransactionStatus.COMPLETED, TransactionStatus.FAILED


@dataclass(frozen=True)
class RefundRequested:
    """A refund the gateway accepted; ``status`` is where it stands (PROCESSING until its webhook)."""

    refund_id: str
    deposit_id: str
    status: str
    amount: int
    currency: str
    gateway_refund_id: str


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


def request_refund(caller: Caller, deposit_id: str, amount: Any | None, reason: str | None) -> RefundRequested:
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
    return RefundRequested(refund_id, deposit_id, refund.status, minor, deposit.currency, result.refund_id)


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


def on_refund_event(reference: str | None, processed: bool, reason: str | None, extra: tuple[Extra, ...]) -> str:
    """``refund.processed`` completes a refund; ``refund.failed`` reverses it. Once each."""
    refund = find_by_reference(reference) if reference else None
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
