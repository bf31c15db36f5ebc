"""Response models of the wallet endpoints (they also document the API in the generated OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel

from payments.clock import isoformat_z
from payments.models import TransactionItem
from payments.money import format_minor
from payments.wallets import BalanceView, TransactionPage


class BalanceResponse(BaseModel):
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

    @classmethod
    def from_view(cls, view: BalanceView) -> BalanceResponse:
        return cls(
            balance=format_minor(view.balance),
            locked_balance=format_minor(view.locked),
            available_balance=format_minor(view.available),
            currency=view.currency,
            daily_limit=format_minor(view.daily_limit),
            daily_used=format_minor(view.daily_used),
            daily_remaining=format_minor(view.daily_remaining),
            monthly_limit=format_minor(view.monthly_limit),
            monthly_used=format_minor(view.monthly_used),
            monthly_remaining=format_minor(view.monthly_remaining),
        )


class TransactionOut(BaseModel):
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

    @classmethod
    def from_item(cls, item: TransactionItem) -> TransactionOut:
        return cls(
            id=item.txn_id,
            amount=format_minor(item.amount),
            fee=format_minor(item.fee),
            currency=item.currency,
            type=item.type,
            status=item.status,
            description=item.description,
            reference_id=item.reference_id,
            failure_reason=item.failure_reason,
            created_at=isoformat_z(item.created_at),
            completed_at=isoformat_z(item.completed_at) if item.completed_at else None,
        )


class TransactionListResponse(BaseModel):
    transactions: list[TransactionOut]
    total: int
    has_more: bool
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: TransactionPage) -> TransactionListResponse:
        return cls(
            transactions=[TransactionOut.from_item(item) for item in page.items],
            total=page.total,
            has_more=page.has_more,
            next_cursor=page.next_cursor,
        )
