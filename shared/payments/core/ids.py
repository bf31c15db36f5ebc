"""Time-ordered identifiers (ULID format: 48-bit millisecond time + 80 random bits, Crockford
base32), so transaction ids sort by creation time and the history reads newest first.

Written here rather than imported: python-ulid pulls in importlib.metadata, about 25 ms of every
cold start (``make bench``), for the twenty lines below.
"""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int | None = None) -> str:
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    value = (timestamp << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))
