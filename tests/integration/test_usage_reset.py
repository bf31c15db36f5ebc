"""The scheduled usage resets walk thousands of wallets in pages and touch only stale ones."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from payments.kyc import resets as usage_reset
from payments.store.ledger_table import WALLET_SK, WalletItem, user_pk
from tests.support.fixtures import run_job

WALLETS = 2000


@pytest.fixture
def many_wallets(aws: Any) -> Iterator[None]:
    """Thousands of wallets, removed afterwards so later tests' table scans stay small."""
    yield
    with WalletItem.batch_write() as batch:
        for n in range(WALLETS):
            batch.delete(WalletItem(user_pk(f"reset_{n}"), WALLET_SK))


@pytest.mark.usefixtures("many_wallets")
def test_the_daily_job_resets_stale_wallets_in_pages(aws: Any) -> None:
    now = datetime(2027, 2, 2, 0, 5, tzinfo=UTC)
    with WalletItem.batch_write() as batch:
        for n in range(WALLETS):
            stale = n % 4 != 0  # every 4th wallet already moved money today
            batch.save(
                WalletItem(
                    user_pk(f"reset_{n}"),
                    WALLET_SK,
                    user_id=f"reset_{n}",
                    daily_used=500,
                    daily_period="2027-02-01" if stale else "2027-02-02",
                    monthly_used=9000,
                    monthly_period="2027-02",
                )
            )
    report = usage_reset.reset("daily", now, page_size=250)
    assert report["reset"] == report["examined"] >= WALLETS * 3 // 4  # other tests' wallets may be stale too
    assert report["pages"] > 1
    assert WalletItem.get(user_pk("reset_1"), WALLET_SK).daily_used == 0
    assert WalletItem.get(user_pk("reset_0"), WALLET_SK).daily_used == 500  # today's usage is kept
    assert usage_reset.reset("daily", now, page_size=250)["reset"] == 0  # nothing left to do
    monthly = usage_reset.reset("monthly", datetime(2027, 3, 1, 0, 10, tzinfo=UTC), page_size=500)
    assert monthly["reset"] >= WALLETS


@pytest.mark.parametrize(("job", "period"), [("Daily", "daily"), ("Monthly", "monthly")])
def test_the_scheduled_functions_reset_as_eventbridge_invokes_them(aws: Any, job: str, period: str) -> None:
    """Each job as deployed: invoked with its schedule's event, with its own role."""
    stale = WalletItem(
        user_pk(f"reset_job_{period}"),
        WALLET_SK,
        user_id=f"reset_job_{period}",
        daily_used=700,
        daily_period="2020-01-01",
        monthly_used=7000,
        monthly_period="2020-01",
    )
    stale.save()
    try:
        report = run_job(aws, f"UsageReset{job}Function")
        assert report["reset"] >= 1
        fresh = WalletItem.get(stale.pk, WALLET_SK, consistent_read=True)
        used = fresh.daily_used if period == "daily" else fresh.monthly_used
        assert used == 0
    finally:
        stale.delete()
