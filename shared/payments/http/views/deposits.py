"""What the deposit endpoints answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, NotRequired

from typing_extensions import TypedDict

from payments.core.money import format_minor
from payments.ledger.types import TransactionStatus

if TYPE_CHECKING:
    from payments.flows.deposits import Confirmed, DepositOrder


class DepositInitiatedBody(TypedDict):
    success: bool
    transaction_id: str
    order_id: str
    amount: str
    currency: str
    checkout_url: str
    key: str
    gateway: str
    client_secret: NotRequired[str]


class DepositConfirmedBody(TypedDict):
    success: bool
    transaction_id: str
    status: str
    amount: str
    currency: str


def initiated(result: DepositOrder) -> DepositInitiatedBody:
    order = result.order
    body: DepositInitiatedBody = {
        "success": True,
        "transaction_id": result.transaction_id,
        "order_id": order.order_id,
        "amount": format_minor(order.amount_minor),
        "currency": order.currency,
        "checkout_url": order.checkout_url,
        "key": order.key,
        "gateway": order.gateway.value.upper(),
    }
    if order.client_secret:
        body["client_secret"] = order.client_secret
    return body


def confirmed(result: Confirmed) -> DepositConfirmedBody:
    """``success`` is true only for a credited deposit; a pending one answers 200 with its status."""
    return {
        "success": result.status == TransactionStatus.COMPLETED,
        "transaction_id": result.transaction_id,
        "status": str(result.status),
        "amount": format_minor(result.amount),
        "currency": result.currency,
    }
