"""Who is acting in this invocation, for the audit trail: ``user:<id>``, ``admin:<id>``,
``gateway:<name>`` (a webhook), ``saga:<step>``, ``job:<name>`` - and the client's IP address when
a request came in over the API.

Set by the entry points (the resolver, the webhook handler, the saga step wrapper, the jobs) for
the length of one invocation with :func:`acting_as`, which restores what was there before: on the
local stack one function can invoke another in the same thread (the Mock delivering a webhook),
and the caller's actor must survive that. Pure Python, so every package may read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    who: str
    ip_address: str | None = None


SYSTEM = Actor("system")
_current: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _current.get()


@contextmanager
def acting_as(who: str, ip_address: str | None = None) -> Iterator[Actor]:
    actor = Actor(who, ip_address or None)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
