"""What the API answers, typed: frozen dataclasses whose fields are the properties of the response
schemas in docs/openapi.json (a test in the server's suite fails when they drift apart). Amounts,
which the API sends as decimal strings, are :class:`~decimal.Decimal` here."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Balance:
    balance: Decimal
    locked_balance: Decimal
    available_balance: Decimal
    currency: str
    daily_limit: Decimal
    daily_used: Decimal
    daily_remaining: Decimal
    monthly_limit: Decimal
    monthly_used: Decimal
    monthly_remaining: Decimal


@dataclass(frozen=True)
class Transaction:
    id: str
    amount: Decimal
    fee: Decimal
    currency: str
    type: str
    status: str
    description: str | None
    reference_id: str | None
    failure_reason: str | None
    created_at: str
    completed_at: str | None


@dataclass(frozen=True)
class TransactionPage:
    transactions: list[Transaction]
    total: int
    has_more: bool
    next_cursor: str | None


@dataclass(frozen=True)
class Method:
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


@dataclass(frozen=True)
class DepositInitiated:
    success: bool
    transaction_id: str
    order_id: str
    amount: Decimal
    currency: str
    checkout_url: str
    key: str
    gateway: str
    client_secret: str | None = None  # Stripe only


@dataclass(frozen=True)
class DepositConfirmed:
    success: bool
    transaction_id: str
    status: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class WithdrawalStarted:
    success: bool
    withdrawal_id: str
    status: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class WithdrawalStatus:
    withdrawal_id: str
    status: str
    stage: str | None
    amount: Decimal
    currency: str
    payment_method_id: str | None
    gateway: str | None
    gateway_payout_id: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str
    completed_at: str | None


@dataclass(frozen=True)
class Refund:
    success: bool
    refund_id: str
    transaction_id: str
    status: str
    amount: Decimal
    currency: str
    gateway_refund_id: str | None


@dataclass(frozen=True)
class KycSet:
    success: bool
    user_id: str
    kyc_level: str


@dataclass(frozen=True)
class Decision:
    success: bool
    withdrawal_id: str
    decision: str


@dataclass(frozen=True)
class Health:
    status: str
    timestamp: str
    version: str
    database: dict[str, Any]
    gateways: dict[str, dict[str, Any]]


def parse(cls: type[T], data: Any) -> T:
    """``data`` (parsed JSON) as ``cls``: amounts to Decimal, nested lists of models parsed; keys
    this version does not know are ignored, so a newer server does not break an older client."""
    hints = typing.get_type_hints(cls)
    values = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if spec.name in data:
            values[spec.name] = _convert(hints[spec.name], data[spec.name])
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(inner, value)
    if hint is Decimal:
        return Decimal(str(value))
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, element) for element in value]
    if dataclasses.is_dataclass(hint):
        return parse(hint, value)  # type: ignore[arg-type]
    return value
