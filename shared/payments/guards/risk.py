"""The fraud engine: score a deposit or withdrawal from the user's recent history and the request.

Each indicator has a weight and a threshold; the weights of the indicators that fire add up to a
score that decides ALLOW, REVIEW or BLOCK. Every number is configuration (``RISK_CONFIG_JSON``
overrides any of :data:`DEFAULTS`), not code. The engine is a pure function of its inputs, so it
is tested on synthetic populations without AWS; :func:`recent_history` is its one read.

Indicators (the first two are the spec's):

- ``rapid_successive_transactions``: at least ``rapid_count`` movements in ``rapid_window_minutes``.
- ``large_amount``: the amount is at least ``large_fraction`` of the KYC tier's single limit.
- ``high_velocity``: the amount plus what moved in ``velocity_window_minutes`` exceeds
  ``velocity_fraction`` of the tier's daily limit.
- ``unusual_amount``: the amount is more than ``unusual_mads`` robust deviations (median and MAD
  of the user's last completed amounts, at least ``unusual_min_history`` of them) above the median.
- ``new_method_large_withdrawal``: a withdrawal to a method added less than ``new_method_hours``
  ago, of at least ``new_method_fraction`` of the single limit.
- ``cash_out``: a withdrawal within ``cash_out_minutes`` of a deposit, of at least
  ``cash_out_fraction`` of that deposit.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from payments.platform.settings import settings

DEFAULTS: dict[str, Any] = {
    "weights": {
        "rapid_successive_transactions": 40,
        "large_amount": 25,
        "high_velocity": 30,
        "unusual_amount": 40,
        "new_method_large_withdrawal": 30,
        "cash_out": 35,
    },
    "review_score": 40,
    "block_score": 90,
    "rapid_count": 4,
    "rapid_window_minutes": 10,
    "large_fraction": 0.8,
    "velocity_fraction": 0.5,
    "velocity_window_minutes": 60,
    "unusual_mads": 8.0,
    "unusual_min_history": 5,
    "new_method_hours": 24,
    "new_method_fraction": 0.25,
    "cash_out_minutes": 60,
    "cash_out_fraction": 0.8,
}


class Decision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True)
class PastMovement:
    kind: str  # DEPOSIT | WITHDRAWAL
    amount: int
    at: datetime
    status: str


@dataclass(frozen=True)
class Assessment:
    decision: Decision
    score: int
    indicators: tuple[str, ...]


def config() -> dict[str, Any]:
    """The engine's settings: :data:`DEFAULTS` with ``RISK_CONFIG_JSON`` merged in."""
    return _merged(settings.risk_config_json)


@lru_cache(maxsize=4)
def _merged(raw: str) -> dict[str, Any]:
    overrides = json.loads(raw or "{}")
    merged = {**DEFAULTS, **overrides}
    merged["weights"] = {**DEFAULTS["weights"], **overrides.get("weights", {})}
    return merged


def assess(
    kind: str,
    amount: int,
    now: datetime,
    history: list[PastMovement],
    single_limit: int,
    daily_limit: int,
    method_created_at: datetime | None = None,
    settings: dict[str, Any] | None = None,
) -> Assessment:
    """Score one movement. ``history`` is the user's recent movements, any order."""
    cfg = settings or config()
    fired = []
    recent = [m for m in history if now - m.at <= timedelta(minutes=cfg["rapid_window_minutes"])]
    if len(recent) + 1 >= cfg["rapid_count"]:
        fired.append("rapid_successive_transactions")
    if amount >= cfg["large_fraction"] * single_limit:
        fired.append("large_amount")
    window = timedelta(minutes=cfg["velocity_window_minutes"])
    moved = sum(m.amount for m in history if now - m.at <= window and m.status != "FAILED")
    if moved + amount > cfg["velocity_fraction"] * daily_limit:
        fired.append("high_velocity")
    if _unusual(amount, [m.amount for m in history if m.status == "COMPLETED"], cfg):
        fired.append("unusual_amount")
    if kind == "WITHDRAWAL":
        if (
            method_created_at is not None
            and now - method_created_at < timedelta(hours=cfg["new_method_hours"])
            and amount >= cfg["new_method_fraction"] * single_limit
        ):
            fired.append("new_method_large_withdrawal")
        cash_window = timedelta(minutes=cfg["cash_out_minutes"])
        if any(
            m.kind == "DEPOSIT"
            and m.status == "COMPLETED"
            and now - m.at <= cash_window
            and amount >= cfg["cash_out_fraction"] * m.amount
            for m in history
        ):
            fired.append("cash_out")
    score = sum(cfg["weights"][name] for name in fired)
    if score >= cfg["block_score"]:
        decision = Decision.BLOCK
    elif score >= cfg["review_score"]:
        decision = Decision.REVIEW
    else:
        decision = Decision.ALLOW
    return Assessment(decision, score, tuple(fired))


def _unusual(amount: int, amounts: list[int], cfg: dict[str, Any]) -> bool:
    """Robust z-score: distance above the median in units of 1.4826 x MAD (a standard deviation
    for normal data, but not dragged around by the outliers it is looking for)."""
    if len(amounts) < cfg["unusual_min_history"]:
        return False
    median = statistics.median(amounts)
    mad = statistics.median(abs(value - median) for value in amounts) * 1.4826
    spread = max(mad, 0.1 * median, 1)
    return (amount - median) / spread > cfg["unusual_mads"]


def recent_history(user_id: str, now: datetime, days: int = 30, limit: int = 100) -> list[PastMovement]:
    """The user's deposits and withdrawals of the last ``days``: one Query of the time index,
    newest first, bounded by time in the key condition and by ``limit``."""
    from payments.store.ledger_table import TransactionItem, user_pk

    since = (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [
        PastMovement(item.type, item.amount, item.created_at, item.status)
        for item in TransactionItem.by_time.query(
            user_pk(user_id), TransactionItem.ts >= since, scan_index_forward=False, limit=limit
        )
        if item.type in ("DEPOSIT", "WITHDRAWAL")
    ]
