"""Dependency checks for ``GET /health``: the database, and each gateway's configuration and
circuit as this deployment sees them. No gateway is called: a probe every few seconds must not
cost gateway API calls or trip their rate limits; the circuits already record what real calls met.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import PynamoDBException

from payments.gateways import circuit, registry
from payments.gateways.base import GatewayName
from payments.platform.observability import logger
from payments.platform.settings import settings
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


def check_gateways() -> dict[str, dict[str, Any]]:
    """Per gateway of ``GATEWAY_ORDER``: configured or not; for a configured one its circuit
    (``closed``, ``open`` until a time, or ``unknown`` when its state cannot be read), the
    consecutive failures and the time of the last failure (epoch seconds)."""
    found: dict[str, dict[str, Any]] = {}
    for name in settings.gateway_order:
        if name not in GatewayName._value2member_map_:
            continue
        gateway = GatewayName(name)
        if not registry.is_configured(gateway):
            found[name] = {"configured": False}
            continue
        try:
            state = circuit.state(name)
        except PynamoDBException as exc:
            logger.warning("gateway circuit unreadable", extra={"gateway": name, "error": type(exc).__name__})
            found[name] = {"configured": True, "circuit": "unknown"}
            continue
        found[name] = {
            "configured": True,
            "circuit": "open" if state.is_open else "closed",
            "open_until": state.open_until if state.is_open else None,
            "consecutive_failures": state.failures,
            "last_failure_at": state.last_failure_at,
        }
    return found
