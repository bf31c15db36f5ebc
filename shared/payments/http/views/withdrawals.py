"""What the withdrawal endpoints answer (the caller's and the admin's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from payments.core.clock import isoformat_z
from payments.core.money import format_minor

if TYPE_CHECKING:
    from payments.flows.withdrawals import Decision, WithdrawalStarted
    from payments.store.ledger_table import TransactionItem


class WithdrawalStartedBody(TypedDict):
    success: bool
    withdrawal_id: str
    status: str
    amount: str
    currency: str


class WithdrawalStatusBody(TypedDict):
    withdrawal_id: str
    status: str
    stage: str | None
    amount: str
    currency: str
    payment_method_id: str | None
    gateway: str | None
    gateway_payout_id: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str
    completed_at: str | None


class DecisionBody(TypedDict):
    success: bool
    withdrawal_id: str
    decision: str


def started(result: WithdrawalStarted) -> WithdrawalStartedBody:
    return {
        "success": True,
        "withdrawal_id": result.withdrawal_id,
        "status": str(result.status),
        "amount": format_minor(result.amount),
        "currency": result.currency,
    }


def status(item: TransactionItem) -> WithdrawalStatusBody:
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


def decision(result: Decision) -> DecisionBody:
    return {
        "success": True,
        "withdrawal_id": result.withdrawal_id,
        "decision": "approved" if result.approved else "rejected",
    }
