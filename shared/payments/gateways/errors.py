"""The outcomes of a gateway call other than success, as adapters report them.

These are signals between the adapters and the flows, never shown to a client as they are: each
flow decides what a refusal or an unavailable gateway means for its money (docs/decisions.md).
"""

from __future__ import annotations


class GatewayUnavailable(Exception):
    """The gateway failed or timed out (5xx, connection error, timeout): try the next one."""


class GatewayRejected(Exception):
    """The gateway answered, and said no (bad request, card declined, amount mismatch)."""


class RefusedBeforeSending(GatewayRejected):
    """Refused by the adapter itself (no account configured, a method the gateway cannot pay
    to): nothing reached the gateway, so no earlier attempt can have acted either."""


class IndefiniteAnswer(Exception):
    """Raised inside an adapter's HTTP session on a 5xx or 429 (it never says whether the request
    was acted on) or a 401/403 (our credentials refused: not an answer to the request), before the
    SDK reads the body's error code."""


class SignatureInvalid(Exception):
    """A confirmation or webhook signature does not verify. Nothing may be changed."""
