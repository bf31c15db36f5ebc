"""What the store reports that its callers turn into business errors."""

from __future__ import annotations


class OrderNotAttached(Exception):
    """The deposit was no longer PENDING when its gateway order was to be attached."""
