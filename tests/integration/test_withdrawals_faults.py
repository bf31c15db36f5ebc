"""Fault tests of the withdrawal saga, in-process (moto runs the real ASL, our handlers run the
steps): retried steps, duplicate and stray payout webhooks. After each, the autouse fixture checks
the ledger invariants and that no funds stay locked without a running execution."""

import time
from typing import Any

import pytest

from payments.flows import withdrawal_saga
from tests.support.api import InProcessApi, Wallets
from tests.support.signing import mock_webhook

API = "/api/v1/payments"
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def _funded(wallets: Wallets, user_id: str, amount: str = "1000.00") -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id), amount).body
    wallets.pay(started["order_id"])


def _withdraw(api: InProcessApi, wallets: Wallets, user_id: str, token: str, amount: str = "200.00") -> str:
    method_id = wallets.add_method(user_id, token=token, kind="BANK_TRANSFER")
    reply = api.post(
        "WithdrawalInitiateFunction",
        f"{API}/withdrawals/initiate",
        user_id,
        {"amount": amount, "payment_method_id": method_id},
    )
    assert reply.status == 202, reply.body
    return reply.body["withdrawal_id"]


def _status(api: InProcessApi, user_id: str, withdrawal_id: str) -> dict[str, Any]:
    path = f"{API}/withdrawals/{withdrawal_id}/status"
    return api.get("WithdrawalStatusFunction", path, user_id, path_params={"withdrawal_id": withdrawal_id}).body


def _wait(api: InProcessApi, user_id: str, withdrawal_id: str, until: Any = None, timeout_s: float = 30) -> dict:
    until = until or (lambda s: s["status"] in FINAL)
    deadline = time.monotonic() + timeout_s
    while True:
        current = _status(api, user_id, withdrawal_id)
        if until(current) or time.monotonic() > deadline:
            return current
        time.sleep(0.2)


def test_a_step_that_fails_at_first_is_retried(
    api: InProcessApi, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = withdrawal_saga.risk_check

    def flaky(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event["withdrawal"]["id"])
        if len(calls) < 3:
            raise ConnectionError("downstream blip")
        return real(event)

    monkeypatch.setattr(withdrawal_saga, "risk_check", flaky)
    _funded(wallets, user_id)
    withdrawal_id = _withdraw(api, wallets, user_id, "tok_mock_success")
    done = _wait(api, user_id, withdrawal_id)
    assert done["status"] == "COMPLETED"
    assert len(calls) == 3
    assert wallets.balance(user_id) == "800.00"


def test_a_payout_webhook_delivered_twice_resumes_once(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    _funded(wallets, user_id)
    withdrawal_id = _withdraw(api, wallets, user_id, "tok_mock_payout_stuck")
    waiting = _wait(api, user_id, withdrawal_id, lambda s: s["stage"] == "PAYOUT_REQUESTED" and s["gateway_payout_id"])
    entity = {
        "id": waiting["gateway_payout_id"],
        "amount": 20000,
        "currency": "INR",
        "reference_id": withdrawal_id,
        "status": "processed",
    }
    body, headers = mock_webhook("payout.processed", "payout", entity, "evt_payout_twice")
    first = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    # The same delivery resent under another event id (the signature covers the body only; a
    # second mock_webhook() could be signed in the next second, over another body).
    other_headers = {**headers, "X-Mock-Event-Id": "evt_payout_twice_resent"}
    second = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=other_headers)
    replay = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert (first.body["outcome"], replay.body["outcome"]) == ("resumed", "duplicate")
    # The resent one finds the saga resumed (still settling) or the withdrawal settled already.
    assert second.body["outcome"] in ("not_waiting", "already_applied")
    assert _wait(api, user_id, withdrawal_id)["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "800.00"


@pytest.mark.parametrize("reference", ["wd_does_not_exist", None])
def test_a_payout_webhook_for_an_unknown_withdrawal_is_acknowledged(api: InProcessApi, reference: str | None) -> None:
    """Once it is an hour old (younger ones carrying a reference are retried: 503)."""
    entity = {"id": "pout_x", "amount": 100, "currency": "INR", "reference_id": reference}
    body, headers = mock_webhook("payout.failed", "payout", entity, f"evt_unknown_{reference}", age_s=3601)
    reply = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "unknown_withdrawal")


def test_a_payout_webhook_for_a_finished_withdrawal_changes_nothing(
    api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    _funded(wallets, user_id)
    withdrawal_id = _withdraw(api, wallets, user_id, "tok_mock_payout_fail")
    assert _wait(api, user_id, withdrawal_id)["status"] == "FAILED"
    entity = {"id": "pout_late", "amount": 20000, "currency": "INR", "reference_id": withdrawal_id}
    body, headers = mock_webhook("payout.processed", "payout", entity, "evt_late_payout")
    reply = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    # A payout reported for a released withdrawal is flagged (metric PayoutAfterRelease), not applied.
    assert (reply.status, reply.body["outcome"]) == (200, "needs_review")
    assert wallets.balance(user_id) == "1000.00"


def test_a_reversed_payout_after_settlement_is_credited_back_once(
    api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    _funded(wallets, user_id)
    withdrawal_id = _withdraw(api, wallets, user_id, "tok_mock_success")
    assert _wait(api, user_id, withdrawal_id)["status"] == "COMPLETED"
    entity = {"id": "pout_r", "amount": 20000, "currency": "INR", "reference_id": withdrawal_id}
    for event_id in ("evt_rev_1", "evt_rev_2"):
        body, headers = mock_webhook("payout.reversed", "payout", entity, event_id)
        api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert wallets.balance(user_id) == "1000.00"


def test_over_the_single_limit_is_pay_005_and_locks_nothing(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    """The event samples' caller is BASIC: its single-transaction limit is 5,000.00."""
    _funded(wallets, user_id, "5000.00")
    method_id = wallets.add_method(user_id, kind="BANK_TRANSFER")
    reply = api.post(
        "WithdrawalInitiateFunction",
        f"{API}/withdrawals/initiate",
        user_id,
        {"amount": "5000.01", "payment_method_id": method_id},
    )
    assert (reply.status, reply.body["error"]["code"]) == (403, "PAY_005")
    assert wallets.balance(user_id) == "5000.00"


def test_more_than_available_is_pay_002(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    _funded(wallets, user_id, "100.00")
    method_id = wallets.add_method(user_id, kind="BANK_TRANSFER")
    reply = api.post(
        "WithdrawalInitiateFunction",
        f"{API}/withdrawals/initiate",
        user_id,
        {"amount": "100.01", "payment_method_id": method_id},
    )
    assert (reply.status, reply.body["error"]["code"]) == (402, "PAY_002")
