"""What the wallet endpoints answer: domain values shaped as the spec's JSON (amounts as strings)."""

from __future__ import annotations

from typing import Any

from payments.clock import isoformat_z
from payments.models import TransactionItem
from payments.money import format_minor
from payments.wallets import BalanceView, TransactionPage


def balance(view: BalanceView) -> dict[str, str]:
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


def transaction(item: TransactionItem) -> dict[str, Any]:
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


def transaction_page(page: TransactionPage) -> dict[str, Any]:
    return {
        "transactions": [transaction(item) for item in page.items],
        "total": page.total,
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }
