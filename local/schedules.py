"""EventBridge schedules on the local stack: fire a scheduled function on demand
(``POST /_local/schedules/<FunctionLogicalId>``) and on its ``rate(...)`` schedule."""

from __future__ import annotations

import re
import sys
import threading
import uuid
from typing import Any

from local.runtime import FunctionError, Runtime
from local.template import FunctionSpec
from payments.core.clock import isoformat_z, utcnow

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def scheduled_event(logical_id: str, region: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event EventBridge sends a scheduled target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": isoformat_z(utcnow()),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{logical_id}"],
        "detail": detail or {},
    }


def rate_seconds(expression: str) -> int | None:
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _SECONDS[match.group(2).rstrip("s")]


class Scheduler:
    """One timer thread per ``rate(...)`` schedule; ``cron(...)`` schedules run only on demand."""

    def __init__(self, runtime: Runtime, specs: dict[str, FunctionSpec], region: str) -> None:
        self._runtime = runtime
        self._specs = specs
        self._region = region
        self._stop = threading.Event()

    def fire(self, logical_id: str, detail: dict[str, Any] | None = None) -> Any:
        return self._runtime.invoke(logical_id, scheduled_event(logical_id, self._region, detail))

    def start(self) -> None:
        for logical_id, spec in self._specs.items():
            for expression in spec.schedules:
                seconds = rate_seconds(expression)
                if seconds:
                    threading.Thread(target=self._loop, args=(logical_id, seconds), daemon=True).start()

    def _loop(self, logical_id: str, seconds: int) -> None:
        while not self._stop.wait(seconds):
            try:
                self.fire(logical_id)
            except FunctionError as exc:
                print(f"[local] scheduled {logical_id} failed: {exc}", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
