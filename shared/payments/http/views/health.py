"""What ``GET /health`` answers."""

from __future__ import annotations

from typing import Any, TypedDict

from payments import __version__
from payments.core.clock import isoformat_z, utcnow


class HealthBody(TypedDict):
    status: str
    timestamp: str
    version: str
    database: dict[str, Any]


def health(database: dict[str, Any]) -> HealthBody:
    healthy = database["status"] == "healthy"
    return {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": isoformat_z(utcnow()),
        "version": __version__,
        "database": database,
    }
