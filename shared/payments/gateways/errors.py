"""The outcomes of a gateway call other than success, as adapters report them.

These are signals between the adapters and the flows, never shown to a client as they are: each
flow decides what a refusal or an unavailable gateway means for its money (docs/decisions.md).
"""

from __future__ import annotations


class GatewayUnavailable(Exception):
    """The gateway failed or timed out (5xx, connection error, timeout): try the next one."""


class GatewayRejected(Exception):
    """The gateway answered, and said no (bad request, card declined, amount mismatch)."""


class SignatureInvalid(Exception):
    """A confirmation or webhook signature does not verify. Nothing may be changed."""
