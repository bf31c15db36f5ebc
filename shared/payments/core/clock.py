"""The one source of "now", so tests can move time (limit periods, recovery due times, locks).

Every module asks :func:`utcnow` (or :func:`epoch_seconds`); tests that need another time call
:func:`set_source` instead of patching each module. :class:`Deadline` is the time budget of one
Lambda invocation: gateway calls are sized to what is left of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    return _source() if _source is not None else datetime.now(UTC)


def epoch_seconds() -> float:
    return utcnow().timestamp() if _source is not None else time.time()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Tests: make every module's "now" come from ``source`` (``None`` restores the real clock)."""
    global _source
    _source = source


def isoformat_z(moment: datetime) -> str:
    """``2024-01-15T10:30:00Z``, the timestamp format of every API response."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sortable(moment: datetime) -> str:
    """``2024-01-15T10:30:00.000000Z``: fixed width, so strings sort as the moments do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Deadline:
    """What is left of an invocation's time. Built from the Lambda context (which knows when the
    function will be stopped); without one, nothing limits the call but its own timeout."""

    def __init__(self, remaining_s: Callable[[], float] | None = None) -> None:
        self._remaining_s = remaining_s

    @classmethod
    def from_context(cls, context: Any) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls()
        return cls(lambda: remaining() / 1000)

    def remaining(self) -> float:
        return float("inf") if self._remaining_s is None else self._remaining_s()

    def budget(self, wanted_s: float, reserve_s: float) -> float:
        """Seconds a call may take so that ``reserve_s`` is left to record its outcome; 0 when
        there is no time for it at all."""
        return max(min(wanted_s, self.remaining() - reserve_s), 0.0)
