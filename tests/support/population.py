"""Synthetic users for the fraud engine: ordinary behaviour, and fraud patterns injected into it."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from payments.core.caller import KycLevel
from payments.guards.risk import Assessment, PastMovement, assess
from payments.kyc.tiers import limits_for

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def ordinary_history(rng: random.Random) -> tuple[list[PastMovement], int]:
    """30 days of a steady user: deposits (and a few withdrawals) around a personal typical amount,
    hours to days apart. Returns the history and that typical amount (minor units)."""
    typical = int(rng.lognormvariate(11.5, 0.6))  # around 1,000.00 INR, from ~300 to ~3,000
    history = []
    at = NOW - timedelta(days=30)
    while True:
        at += timedelta(hours=rng.uniform(8, 96))
        if at >= NOW - timedelta(hours=2):
            break
        kind = "WITHDRAWAL" if rng.random() < 0.2 else "DEPOSIT"
        amount = max(100, int(typical * rng.uniform(0.5, 1.8)))
        history.append(PastMovement(kind, amount, at, "COMPLETED"))
    return history, typical


def _assess(kind: str, amount: int, history: list[PastMovement], method_age: timedelta | None = None) -> Assessment:
    tier = limits_for(KycLevel.INTERMEDIATE)
    created = NOW - method_age if method_age is not None else NOW - timedelta(days=90)
    return assess(kind, amount, NOW, history, tier.single_transaction, tier.daily_limit, created)


def ordinary_next(rng: random.Random) -> Assessment:
    history, typical = ordinary_history(rng)
    kind = "WITHDRAWAL" if rng.random() < 0.3 else "DEPOSIT"
    return _assess(kind, max(100, int(typical * rng.uniform(0.5, 1.8))), history)


def _rapid_burst(rng: random.Random) -> Assessment:
    history, typical = ordinary_history(rng)
    burst = [PastMovement("DEPOSIT", typical, NOW - timedelta(minutes=m), "COMPLETED") for m in (1, 3, 6)]
    return _assess("DEPOSIT", typical, history + burst)


def _large_vs_history(rng: random.Random) -> Assessment:
    history, typical = ordinary_history(rng)
    return _assess("DEPOSIT", typical * rng.randint(15, 30), history)


def _cash_out(rng: random.Random) -> Assessment:
    history, typical = ordinary_history(rng)
    deposit = typical * rng.randint(5, 15)
    history.append(PastMovement("DEPOSIT", deposit, NOW - timedelta(minutes=rng.randint(2, 30)), "COMPLETED"))
    return _assess("WITHDRAWAL", int(deposit * rng.uniform(0.9, 1.0)), history)


def _new_method_drain(rng: random.Random) -> Assessment:
    history, _ = ordinary_history(rng)
    tier = limits_for(KycLevel.INTERMEDIATE)
    amount = int(tier.single_transaction * rng.uniform(0.4, 0.9))
    return _assess("WITHDRAWAL", amount, history, method_age=timedelta(minutes=rng.randint(5, 300)))


FRAUD_PATTERNS: dict[str, Callable[[random.Random], Assessment]] = {
    "rapid_burst": _rapid_burst,
    "large_vs_history": _large_vs_history,
    "cash_out": _cash_out,
    "new_method_drain": _new_method_drain,
}


def false_positive_rate(users: int = 1000, seed: int = 7) -> float:
    rng = random.Random(seed)
    flagged = sum(ordinary_next(rng).decision != "allow" for _ in range(users))
    return flagged / users


def detection_rates(per_pattern: int = 250, seed: int = 11) -> dict[str, float]:
    rng = random.Random(seed)
    return {
        name: sum(pattern(rng).decision != "allow" for _ in range(per_pattern)) / per_pattern
        for name, pattern in FRAUD_PATTERNS.items()
    }
