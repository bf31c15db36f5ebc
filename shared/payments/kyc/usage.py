"""KYC limit usage, kept on the wallet item and changed inside the ledger's own transaction.

Daily and monthly usage are counters with the period they belong to (``daily_period`` =
``2026-11-26``, ``monthly_period`` = ``2026-11``, UTC). A charge assumes the stored periods are
today's and adds under the condition ``used <= limit - amount``; when that condition fails the
ledger reads the wallet once, and either refuses (PAY_005, PAY_002) or writes again with the
period rolled over (``SET period = today, used = amount``). So usage rolls over lazily on the
first movement of a day or month and correctness never depends on the reset jobs, while the
common case stays one write. Giving usage back (a failed deposit, a released withdrawal) only
touches a counter still in the period that was charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from pynamodb.expressions.condition import Condition

from payments.core.errors import LimitExceeded
from payments.core.money import format_minor
from payments.kyc.tiers import TierLimits, day_period, month_period
from payments.store.ledger_table import WalletItem


@dataclass(frozen=True)
class LimitCharge:
    """``amount`` > 0 charges (and enforces the limits given); < 0 gives usage back."""

    amount: int
    day: str
    month: str
    daily_limit: int | None = None
    monthly_limit: int | None = None

    @classmethod
    def charge(cls, amount: int, now: datetime, limits: TierLimits | None) -> LimitCharge:
        return cls(
            amount,
            day_period(now),
            month_period(now),
            limits.daily_limit if limits else None,
            limits.monthly_limit if limits else None,
        )

    @classmethod
    def give_back(cls, amount: int, day: str | None, month: str | None) -> LimitCharge | None:
        if not day or not month:
            return None
        return cls(-amount, day, month)


def wallet_parts(charge: LimitCharge, known: WalletItem | None) -> tuple[list[Any], Condition]:
    """Update actions and condition for the wallet item. ``known`` is None on the first try
    (assume the periods are current); after a refusal it is the wallet as read."""
    actions: list[Any] = []
    conditions: list[Condition] = []
    counters = (
        ("daily", WalletItem.daily_used, WalletItem.daily_period, charge.day, charge.daily_limit),
        ("monthly", WalletItem.monthly_used, WalletItem.monthly_period, charge.month, charge.monthly_limit),
    )
    for name, used, period_attr, period, limit in counters:
        current = known is None or getattr(known, period_attr.attr_name) == period
        if charge.amount < 0:
            if current:
                actions.append(used.add(charge.amount))
                conditions.append(period_attr == period)
            else:
                conditions.append(period_attr.does_not_exist() | (period_attr != period))
            continue
        if current:
            if known is not None and limit is not None and getattr(known, used.attr_name) + charge.amount > limit:
                raise _exceeded(name, limit, limit - getattr(known, used.attr_name))
            actions.append(used.add(charge.amount))
            conditions.append(period_attr == period)
            if limit is not None:
                conditions.append(used <= limit - charge.amount)
        else:
            if limit is not None and charge.amount > limit:
                raise _exceeded(name, limit, limit)
            actions += [period_attr.set(period), used.set(charge.amount)]
            conditions.append(period_attr.does_not_exist() | (period_attr != period))
    return actions, reduce(lambda left, right: left & right, conditions)


def _exceeded(name: str, limit: int, remaining: int) -> LimitExceeded:
    return LimitExceeded(
        f"This would exceed your {name} limit of {format_minor(limit)}",
        limit=name,
        remaining=format_minor(max(remaining, 0)),
    )
