"""What the payment-method endpoints answer: masked details, never the token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

if TYPE_CHECKING:
    from payments.store.ledger_table import PaymentMethodItem


class MethodBody(TypedDict):
    id: str
    type: str
    gateway: str
    brand: str | None
    last_four: str | None
    masked_number: str | None
    expiry_month: int | None
    expiry_year: int | None
    label: str | None
    payout_capable: bool
    created_at: str


class MethodCreatedBody(TypedDict):
    success: bool
    payment_method: MethodBody


class MethodListBody(TypedDict):
    payment_methods: list[MethodBody]


class MethodDeletedBody(TypedDict):
    success: bool
    id: str


def mask_card_number(last_four: str) -> str:
    return f"****-****-****-{last_four}"


def method(item: PaymentMethodItem) -> MethodBody:
    return {
        "id": item.method_id,
        "type": item.type,
        "gateway": item.gateway.upper(),
        "brand": item.brand,
        "last_four": item.last_four,
        "masked_number": mask_card_number(item.last_four) if item.last_four else None,
        "expiry_month": item.expiry_month,
        "expiry_year": item.expiry_year,
        "label": item.label,
        "payout_capable": item.payout_capable,
        "created_at": item.created_at.isoformat().replace("+00:00", "Z"),
    }


def created(item: PaymentMethodItem) -> MethodCreatedBody:
    return {"success": True, "payment_method": method(item)}


def listed(items: list[PaymentMethodItem]) -> MethodListBody:
    return {"payment_methods": [method(item) for item in items]}


def deleted(method_id: str) -> MethodDeletedBody:
    return {"success": True, "id": method_id}
