"""Per-user, per-endpoint rate limits (spec Appendix D), one DynamoDB write per request.

Fixed windows: a request to ``route`` at time ``t`` counts in the window starting at
``t - t % window``, in an ops-table item (TTL) updated with ``ADD count 1`` under the condition
``count < limit``. A refused request is answered 429 with ``Retry-After`` (seconds to the next
window) and nothing else happens. Fixed rather than sliding: one conditional write and no read,
at the price of allowing up to 2x the limit across a window boundary. Limits are per user for
authenticated routes; webhooks (authenticated by signature) share one generous ceiling per gateway.

Configuration: ``RATE_LIMIT_REQUESTS`` / ``RATE_LIMIT_WINDOW_MINUTES`` (default for routes not in
the table, 100 per 15 minutes), ``WEBHOOK_RATE_LIMIT_PER_MINUTE`` (1000), and
``RATE_LIMITS_JSON`` = ``{"<path>": [requests, window_seconds], ...}`` to override any route.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from functools import lru_cache

from pynamodb.exceptions import UpdateError

from payments.guards.errors import RateLimited
from payments.platform.settings import settings
from payments.store.ops_table import RateLimitItem

APPENDIX_D: dict[str, tuple[int, int]] = {
    "/api/v1/payments/wallet/balance": (100, 60),
    "/api/v1/payments/deposits/initiate": (5, 300),
    "/api/v1/payments/withdrawals/initiate": (3, 600),
    "/api/v1/payments/wallet/transactions": (50, 60),
}


@lru_cache(maxsize=8)
def _overrides(raw: str) -> dict[str, tuple[int, int]]:
    return {path: (int(rule[0]), int(rule[1])) for path, rule in json.loads(raw or "{}").items()}


def rule_for(route: str) -> tuple[int, int]:
    """(requests, window seconds) for an API route (its template path, e.g. ``/api/.../{id}``)."""
    overrides = _overrides(settings.rate_limits_json)
    if route in overrides:
        return overrides[route]
    if route.startswith("/webhooks/"):
        return overrides.get("webhooks", (settings.webhook_rate_limit_per_minute, 60))
    if route in APPENDIX_D:
        return APPENDIX_D[route]
    default = overrides.get("default")
    if default:
        return default
    return settings.rate_limit_requests, 60 * settings.rate_limit_window_minutes


def hit(owner: str, route: str, now: float | None = None) -> None:
    """Count one request of ``owner`` (a user id, or ``webhook:<gateway>``) on ``route``."""
    limit, window = rule_for(route)
    now = time.time() if now is None else now
    start = int(now) - int(now) % window
    item = RateLimitItem(f"RL#{owner}#{route}#{start}")
    try:
        item.update(
            actions=[RateLimitItem.count.add(1), RateLimitItem.expires_at.set(timedelta(seconds=window + 60))],
            condition=RateLimitItem.count.does_not_exist() | (RateLimitItem.count < limit),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise RateLimited(retry_after=max(start + window - int(now), 1), limit=limit, window=window) from None
