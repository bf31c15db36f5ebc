"""Dependency checks for ``GET /health``."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import PynamoDBException

from payments.platform.observability import logger
from payments.store.ledger_table import WalletItem

_PROBE_KEY = ("HEALTH", "PROBE")


def check_database() -> dict[str, Any]:
    """One GetItem of a key that never exists: proves the table is reachable and readable with the
    function's own least-privilege role, without scanning or describing anything."""
    started = time.perf_counter()
    try:
        WalletItem.get(*_PROBE_KEY)
    except WalletItem.DoesNotExist:
        pass
    except PynamoDBException as exc:
        logger.warning("database health check failed", extra={"error": type(exc).__name__})
        return {"status": "unhealthy", "error": type(exc).__name__}
    return {"status": "healthy", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
