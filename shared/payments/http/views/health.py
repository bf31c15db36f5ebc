"""What ``GET /health`` answers (the spec's fields, plus each gateway's state)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from typing_extensions import TypedDict

from payments import __version__
from payments.core.clock import isoformat_z, utcnow


class HealthBody(TypedDict):
    status: str  # healthy | degraded (a gateway's circuit is open or unknown) | unhealthy (no database)
    timestamp: str
    version: str
    database: dict[str, Any]
    gateways: dict[str, dict[str, Any]]


def _when(epoch: int | None) -> str | None:
    return isoformat_z(datetime.fromtimestamp(epoch, UTC)) if epoch else None


def health(database: dict[str, Any], gateways: dict[str, dict[str, Any]]) -> HealthBody:
    shown = {
        name: {key: _when(value) if key in ("open_until", "last_failure_at") else value for key, value in state.items()}
        for name, state in gateways.items()
    }
    if database["status"] != "healthy":
        status = "unhealthy"
    elif any(state.get("circuit") in ("open", "unknown") for state in gateways.values()):
        status = "degraded"
    else:
        status = "healthy"
    return {
        "status": status,
        "timestamp": isoformat_z(utcnow()),
        "version": __version__,
        "database": database,
        "gateways": shown,
    }
