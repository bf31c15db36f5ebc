"""The one source of "now", so tests can freeze time (limit periods, timestamps)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat_z(moment: datetime) -> str:
    """``2024-01-15T10:30:00Z``, the timestamp format of every API response."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
