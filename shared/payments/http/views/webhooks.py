"""What a webhook endpoint answers the gateway (2xx: the event is handled, stop retrying)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

if TYPE_CHECKING:
    from payments.flows.webhooks import WebhookResult


class WebhookReceivedBody(TypedDict):
    received: bool
    event_id: str
    outcome: str
    transaction_id: str | None


def received(result: WebhookResult) -> WebhookReceivedBody:
    return {
        "received": True,
        "event_id": result.event_id,
        "outcome": result.outcome,
        "transaction_id": result.transaction_id,
    }
