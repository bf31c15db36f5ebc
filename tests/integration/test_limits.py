"""KYC limits: single, daily and monthly at the boundary, rollover without any job, usage given
back by failed deposits and released withdrawals, the admin's stored level."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from payments.core.caller import KycLevel
from payments.core.money import format_minor
from payments.kyc.tiers import limits_for
from tests.support.api import InProcessApi, Wallets

API = "/api/v1/payments"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A controllable clock for every module that asks for 'now', and a fraud engine that does not
    mind the bursts of large deposits these tests make."""
    moments = {"now": datetime(2026, 3, 31, 23, 0, tzinfo=UTC)}
    for module in (
        "payments.flows.deposits",
        "payments.flows.withdrawals",
        "payments.flows.withdrawal_saga",
        "payments.flows.wallets",
        "payments.ledger.writer",
    ):
        monkeypatch.setattr(f"{module}.utcnow", lambda: moments["now"], raising=False)
    monkeypatch.setattr("payments.guards.risk.assess", _allow_all)
    return moments


def _allow_all(*args: Any, **kwargs: Any) -> Any:
    from payments.guards.risk import Assessment, Decision

    return Assessment(Decision.ALLOW, 0, ())


def _balance(api: InProcessApi, user_id: str, kyc: str = "BASIC") -> dict[str, str]:
    return api.get("WalletBalanceFunction", f"{API}/wallet/balance", user_id, kyc=kyc).body


TIERS = list(KycLevel)


@pytest.mark.usefixtures("frozen")
@pytest.mark.parametrize("level", TIERS)
def test_single_limit_at_the_boundary(wallets: Wallets, user_id: str, level: KycLevel) -> None:
    single = limits_for(level).single_transaction
    method_id = wallets.add_method(user_id)
    over = wallets.initiate(user_id, method_id, format_minor(single + 1), kyc=level)
    assert (over.status, over.body["error"]["code"]) == (403, "PAY_005")
    assert wallets.initiate(user_id, method_id, format_minor(single), kyc=level).status == 200


def _fill(wallets: Wallets, user_id: str, method_id: str, level: KycLevel, total: int) -> None:
    """Deposits of at most the single limit that add up to ``total`` minor units."""
    single = limits_for(level).single_transaction
    while total > 0:
        amount = min(single, total)
        reply = wallets.initiate(user_id, method_id, format_minor(amount), kyc=level)
        assert reply.status == 200, reply.body
        total -= amount


@pytest.mark.parametrize("level", TIERS)
def test_daily_limit_at_the_boundary_and_rollover_without_a_job(
    frozen: Any, api: InProcessApi, wallets: Wallets, user_id: str, level: KycLevel
) -> None:
    tier = limits_for(level)
    method_id = wallets.add_method(user_id)
    _fill(wallets, user_id, method_id, level, tier.daily_limit - 1)
    over = wallets.initiate(user_id, method_id, "0.02", kyc=level)
    assert (over.status, over.body["error"]["code"]) == (403, "PAY_005")
    assert over.body["error"]["details"] == {"limit": "daily", "remaining": "0.01"}
    assert wallets.initiate(user_id, method_id, "0.01", kyc=level).status == 200  # exactly at the limit
    balance = _balance(api, user_id, level)
    assert (balance["daily_used"], balance["daily_remaining"]) == (format_minor(tier.daily_limit), "0.00")

    frozen["now"] += timedelta(hours=2)  # 2026-04-01 01:00 UTC: a new day and a new month
    balance = _balance(api, user_id, level)
    assert (balance["daily_used"], balance["monthly_used"]) == ("0.00", "0.00")
    assert wallets.initiate(user_id, method_id, "1.00", kyc=level).status == 200
    balance = _balance(api, user_id, level)
    assert (balance["daily_used"], balance["monthly_used"]) == ("1.00", "1.00")


@pytest.mark.parametrize("level", TIERS)
def test_monthly_limit_across_days(
    frozen: Any, api: InProcessApi, wallets: Wallets, user_id: str, level: KycLevel
) -> None:
    tier = limits_for(level)
    frozen["now"] = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    method_id = wallets.add_method(user_id)
    remaining = tier.monthly_limit
    while remaining > 0:  # fill whole days, then move to the next day
        today = min(tier.daily_limit, remaining)
        _fill(wallets, user_id, method_id, level, today)
        remaining -= today
        frozen["now"] += timedelta(days=1)
    over = wallets.initiate(user_id, method_id, "0.01", kyc=level)
    assert (over.status, over.body["error"]["details"]["limit"]) == (403, "monthly")
    assert _balance(api, user_id, level)["monthly_remaining"] == "0.00"


def test_a_failed_deposit_gives_its_usage_back(frozen: Any, api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    frozen["now"] = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    started = wallets.initiate(user_id, wallets.add_method(user_id, token="tok_mock_decline"), "3000.00").body
    assert _balance(api, user_id)["daily_used"] == "3000.00"
    wallets.pay(started["order_id"])  # declined: payment.failed
    assert _balance(api, user_id)["daily_used"] == "0.00"


def test_a_released_withdrawal_gives_its_usage_back(
    frozen: Any, api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    import time

    frozen["now"] = datetime(2026, 6, 11, 10, 0, tzinfo=UTC)
    started = wallets.initiate(user_id, wallets.add_method(user_id), "2000.00").body
    wallets.pay(started["order_id"])
    method_id = wallets.add_method(user_id, token="tok_mock_payout_fail", kind="BANK_TRANSFER")
    reply = api.post(
        "WithdrawalInitiateFunction",
        f"{API}/withdrawals/initiate",
        user_id,
        {"amount": "1500.00", "payment_method_id": method_id},
    )
    assert reply.status == 202
    assert _balance(api, user_id)["daily_used"] == "3500.00"
    deadline = time.monotonic() + 20
    while _balance(api, user_id)["locked_balance"] != "0.00" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _balance(api, user_id)["daily_used"] == "2000.00"


def test_an_admin_sets_the_stored_kyc_level(frozen: Any, api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    path = f"{API}/admin/users/{user_id}/kyc"
    not_admin = api.call(
        "AdminUserKycFunction", "PUT", path, "some_user", {"kyc_level": "ADVANCED"}, path_params={"user_id": user_id}
    )
    assert not_admin.status == 403
    event_admin = api.call(
        "AdminUserKycFunction",
        "PUT",
        path,
        "ops_admin",
        {"kyc_level": "ADVANCED"},
        path_params={"user_id": user_id},
        roles="admin,user",
    )
    assert event_admin.status == 200, event_admin.body
    assert _balance(api, user_id)["daily_limit"] == format_minor(limits_for(KycLevel.ADVANCED).daily_limit)
    bad = api.call(
        "AdminUserKycFunction",
        "PUT",
        path,
        "ops_admin",
        {"kyc_level": "PLATINUM"},
        path_params={"user_id": user_id},
        roles="admin,user",
    )
    assert bad.status == 422
    assert Decimal(_balance(api, user_id)["daily_limit"]) == Decimal("500000.00")
