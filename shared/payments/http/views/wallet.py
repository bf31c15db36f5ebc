"""What the wallet endpoints answer: domain values shaped as the spec's JSON (amounts as strings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from payments.core.clock import isoformat_z
from payments.core.money import format_minor

if TYPE_CHECKING:
    from payments.flows.wallets import BalanceView, TransactionPage
    from payments.store.ledger_table import TransactionItem


class BalanceBody(TypedDict):
    balance: str
    locked_balance: str
    available_balance: str
    currency: str
    daily_limit: str
    daily_used: str
    daily_remaining: str
    monthly_limit: str
    monthly_used: str
    monthly_remaining: str


class TransactionBody(TypedDict):
    id: str
    amount: str
    fee: str
    currency: str
    type: str
    status: str
    description: str | None
    reference_id: str | None
    failure_reason: str | None
    created_at: str
    completed_at: str | None


class TransactionPageBody(TypedDict):
    transactions: list[TransactionBody]
    total: int
    has_more: bool
    next_cursor: str | None


def balance(view: BalanceView) -> BalanceBody:
    return {
        "balance": format_minor(view.balance),
        "locked_balance": format_minor(view.locked),
        "available_balance": format_minor(view.available),
        "currency": view.currency,
        "daily_limit": format_minor(view.daily_limit),
        "daily_used": format_minor(view.daily_used),
        "daily_remaining": format_minor(view.daily_remaining),
        "monthly_limit": format_minor(view.monthly_limit),
        "monthly_used": format_minor(view.monthly_used),
        "monthly_remaining": format_minor(view.monthly_remaining),
    }


def transaction(item: TransactionItem) -> TransactionBody:
    return {
        "id": item.txn_id,
        "amount": format_minor(item.amount),
        "fee": format_minor(item.fee),
        "currency": item.currency,
        "type": item.type,
        "status": item.status,
        "description": item.description,
        "reference_id": item.reference_id,
        "failure_reason": item.failure_reason,
        "created_at": isoformat_z(item.created_at),
        "completed_at": isoformat_z(item.completed_at) if item.completed_at else None,
    }


def transaction_page(page: TransactionPage) -> TransactionPageBody:
    return {
        "transactions": [transaction(item) for item in page.items],
        "total": page.total,
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }
