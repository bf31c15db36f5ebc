"""KYC tiers and their transaction limits (spec: KYC-based Limits Configuration).

The defaults are the spec's table; a deployment overrides them with ``KYC_LIMITS_JSON``, e.g.
``{"BASIC": {"daily_limit": "20000", "monthly_limit": "150000", "single_transaction": "5000"}}``
(tiers or fields left out keep their defaults).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from payments.core.caller import KycLevel
from payments.core.money import MAX_AMOUNT, to_minor
from payments.platform.settings import settings


@dataclass(frozen=True)
class TierLimits:
    """Limits of one tier, in integer minor units."""

    daily_limit: int
    monthly_limit: int
    single_transaction: int


DEFAULT_LIMITS: dict[KycLevel, TierLimits] = {
    KycLevel.BASIC: TierLimits(to_minor(Decimal(10_000)), to_minor(Decimal(100_000)), to_minor(Decimal(5_000))),
    KycLevel.INTERMEDIATE: TierLimits(
        to_minor(Decimal(50_000)), to_minor(Decimal(1_000_000)), to_minor(Decimal(25_000))
    ),
    KycLevel.ADVANCED: TierLimits(to_minor(Decimal(500_000)), to_minor(Decimal(5_000_000)), to_minor(Decimal(100_000))),
}


def _parse_overrides(raw: str) -> dict[KycLevel, TierLimits]:
    limits = dict(DEFAULT_LIMITS)
    for level_name, fields in json.loads(raw, parse_float=Decimal).items():
        level = KycLevel(level_name.upper())
        changes = {}
        for field, value in fields.items():
            if field not in TierLimits.__dataclass_fields__:
                raise ValueError(f"KYC_LIMITS_JSON: unknown field {field!r} for {level}")
            amount = Decimal(str(value))
            if not (0 < amount <= MAX_AMOUNT):
                raise ValueError(f"KYC_LIMITS_JSON: {level}.{field} out of range")
            changes[field] = to_minor(amount)
        limits[level] = replace(limits[level], **changes)
    return limits


@lru_cache(maxsize=4)
def _limits_from(raw: str) -> dict[KycLevel, TierLimits]:
    return _parse_overrides(raw) if raw else dict(DEFAULT_LIMITS)


def configured_limits() -> dict[KycLevel, TierLimits]:
    """The limits in force for this deployment (parsed once per distinct ``KYC_LIMITS_JSON``)."""
    return _limits_from(settings.kyc_limits_json.strip())


def limits_for(level: KycLevel) -> TierLimits:
    return configured_limits()[level]


def day_period(now: datetime) -> str:
    """The daily usage bucket a moment falls in (UTC date)."""
    return now.strftime("%Y-%m-%d")


def month_period(now: datetime) -> str:
    """The monthly usage bucket a moment falls in (UTC month)."""
    return now.strftime("%Y-%m")
