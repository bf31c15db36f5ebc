"""Webhook and payment signatures computed exactly the way each gateway computes them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

RAZORPAY_KEY_SECRET = "rzp_test_secret_do_not_store"
RAZORPAY_WEBHOOK_SECRET = "rzp_webhook_secret_do_not_store"
STRIPE_SECRET_KEY = "sk_test_do_not_store"
STRIPE_WEBHOOK_SECRET = "whsec_test_do_not_store"
MOCK_KEY_SECRET = "mock_key_secret_local_only"
MOCK_WEBHOOK_SECRET = "mock_webhook_secret_local_only"

GATEWAY_ENV = {
    "RAZORPAY_KEY_ID": "rzp_test_key",
    "RAZORPAY_KEY_SECRET": RAZORPAY_KEY_SECRET,
    "RAZORPAY_WEBHOOK_SECRET": RAZORPAY_WEBHOOK_SECRET,
    "STRIPE_SECRET_KEY": STRIPE_SECRET_KEY,
    "STRIPE_PUBLISHABLE_KEY": "pk_test_publishable",
    "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
}


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def razorpay_payment_signature(order_id: str, payment_id: str) -> str:
    return hmac_hex(RAZORPAY_KEY_SECRET, f"{order_id}|{payment_id}")


def _event_envelope(event: str, entities: dict[str, dict[str, Any]], account: str, age_s: int = 0) -> str:
    """Razorpay's webhook body (the Mock gateway sends the same shape)."""
    return json.dumps(
        {
            "entity": "event",
            "account_id": account,
            "event": event,
            "contains": list(entities),
            "payload": {name: {"entity": entity} for name, entity in entities.items()},
            "created_at": int(time.time()) - age_s,
        }
    )


def razorpay_webhook(
    event: str, entity_name: str, entity: dict[str, Any], event_id: str, **more: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """``more`` adds entities, e.g. ``payment=...`` beside a dispute, as Razorpay sends them."""
    body = _event_envelope(event, {entity_name: entity, **more}, "acc_test")
    return body, {"X-Razorpay-Signature": hmac_hex(RAZORPAY_WEBHOOK_SECRET, body), "X-Razorpay-Event-Id": event_id}


def stripe_webhook(event_type: str, obj: dict[str, Any], event_id: str, age_s: int = 0) -> tuple[str, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "api_version": "2026-10-28.endive",
            "data": {"object": obj},
        }
    )
    stamp = int(time.time()) - age_s
    return body, {"Stripe-Signature": f"t={stamp},v1={hmac_hex(STRIPE_WEBHOOK_SECRET, f'{stamp}.{body}')}"}


def mock_webhook(
    event: str, entity_name: str, entity: dict[str, Any], event_id: str, age_s: int = 0
) -> tuple[str, dict[str, str]]:
    body = _event_envelope(event, {entity_name: entity}, "acc_mock", age_s)
    return body, {"X-Mock-Signature": hmac_hex(MOCK_WEBHOOK_SECRET, body), "X-Mock-Event-Id": event_id}
