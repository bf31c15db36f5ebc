"""Rate limits of Appendix D: the (N+1)th request in a window is 429 with Retry-After, the first
after the window passes is served, and users do not share a bucket."""

from typing import Any

import pytest

from payments.guards import rate_limits as ratelimit
from tests.support.api import InProcessApi

ROWS = [
    ("WalletBalanceFunction", "GET", "/api/v1/payments/wallet/balance", None, 100, 60),
    ("WalletTransactionsFunction", "GET", "/api/v1/payments/wallet/transactions", None, 50, 60),
    ("DepositInitiateFunction", "POST", "/api/v1/payments/deposits/initiate", {"amount": "x"}, 5, 300),
    ("WithdrawalInitiateFunction", "POST", "/api/v1/payments/withdrawals/initiate", {"amount": "x"}, 3, 600),
]


@pytest.fixture(autouse=True)
def _spec_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RATE_LIMITS_JSON")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    now = {"t": 1_800_000_000.0}  # a window boundary for every window length below
    monkeypatch.setattr(ratelimit.time, "time", lambda: now["t"])
    return now


@pytest.mark.parametrize(("function", "method", "path", "body", "limit", "window"), ROWS)
def test_the_request_after_the_limit_is_429_until_the_window_passes(
    api: InProcessApi,
    user_id: str,
    clock: dict[str, float],
    function: str,
    method: str,
    path: str,
    body: Any,
    limit: int,
    window: int,
) -> None:
    assert ratelimit.rule_for(path) == (limit, window)
    statuses = [api.call(function, method, path, user_id, body).status for _ in range(limit)]
    assert 429 not in statuses
    clock["t"] += window - 10
    refused = api.call(function, method, path, user_id, body)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "RATE_LIMITED"
    assert refused.headers["Retry-After"] == "10"
    assert api.call(function, method, path, "another_user", body).status != 429
    clock["t"] += 10
    assert api.call(function, method, path, user_id, body).status != 429


def test_other_routes_use_the_global_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_REQUESTS", "7")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_MINUTES", "2")
    assert ratelimit.rule_for("/api/v1/payments/methods") == (7, 120)


def test_webhooks_have_their_own_ceiling_counted_after_the_signature(
    api: InProcessApi, clock: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.signing import mock_webhook

    monkeypatch.setenv("WEBHOOK_RATE_LIMIT_PER_MINUTE", "2")
    forged = [api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body="{}").status for _ in range(3)]
    assert forged == [400, 400, 400]  # forgeries are refused before they can use up the ceiling
    statuses = []
    for n in range(3):
        body, headers = mock_webhook("order.paid", "order", {"id": "order_x"}, f"evt_ceiling_{clock['t']}_{n}")
        statuses.append(
            api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers).status
        )
    assert statuses == [200, 200, 429]
