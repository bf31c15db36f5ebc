"""What the refund endpoint answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from payments.core.money import format_minor

if TYPE_CHECKING:
    from payments.flows.refunds import RefundRequested


class RefundBody(TypedDict):
    success: bool
    refund_id: str
    transaction_id: str
    status: str
    amount: str
    currency: str
    gateway_refund_id: str | None


def requested(result: RefundRequested) -> RefundBody:
    return {
        "success": True,
        "refund_id": result.refund_id,
        "transaction_id": result.deposit_id,
        "status": result.status,
        "amount": format_minor(result.amount),
        "currency": result.currency,
        "gateway_refund_id": result.gateway_refund_id,
    }
