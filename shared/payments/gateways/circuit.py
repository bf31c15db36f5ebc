"""A circuit breaker per gateway, shared by every Lambda through the ops table.

After ``CIRCUIT_FAILURE_THRESHOLD`` consecutive failures (default 3) the circuit opens for
``CIRCUIT_COOLDOWN_SECONDS`` (default 60): deposit initiation skips that gateway and fails over
at once instead of waiting for another timeout. A success closes it. State is read eventually
consistent (one cheap read per gateway tried) and written only when it changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from payments.platform.settings import settings
from payments.store.ops_table import CircuitItem

_STATE_TTL_S = 24 * 3600


@dataclass(frozen=True)
class CircuitState:
    failures: int
    open_until: int
    last_failure_at: int | None = None

    @property
    def is_open(self) -> bool:
        return self.open_until > time.time()


def _key(gateway: str) -> str:
    return f"CIRCUIT#{gateway}"


def state(gateway: str) -> CircuitState:
    try:
        item = CircuitItem.get(_key(gateway))
    except CircuitItem.DoesNotExist:
        return CircuitState(0, 0)
    return CircuitState(item.failures, item.open_until, item.last_failure_at)


def record_failure(gateway: str) -> CircuitState:
    threshold = settings.circuit_failure_threshold
    cooldown = settings.circuit_cooldown_seconds
    item = CircuitItem(_key(gateway))
    now = int(time.time())
    item.update(
        actions=[
            CircuitItem.failures.add(1),
            CircuitItem.last_failure_at.set(now),
            CircuitItem.expires_at.set(timedelta(seconds=_STATE_TTL_S)),
        ]
    )
    if item.failures >= threshold:
        item.update(actions=[CircuitItem.open_until.set(now + cooldown), CircuitItem.failures.set(0)])
    return CircuitState(item.failures, item.open_until)


def record_success(gateway: str, before: CircuitState) -> None:
    if before.failures or before.open_until:
        CircuitItem(_key(gateway)).update(actions=[CircuitItem.failures.set(0), CircuitItem.open_until.set(0)])
