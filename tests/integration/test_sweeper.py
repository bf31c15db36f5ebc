"""The stuck-payment sweeper settles PENDING deposits through the same exactly-once path."""

from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import Wallets
from tests.support.fixtures import Travel


def _sweep(aws: Any) -> dict:
    from tests.support.fixtures import load_event

    return aws.runtime.invoke("DepositSweeperFunction", load_event("deposit_sweeper"))


@pytest.fixture
def no_min_age(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEPER_MIN_AGE_MINUTES", "0")


@pytest.mark.usefixtures("no_min_age")
def test_a_paid_deposit_without_webhook_or_confirm_is_credited_once(aws: Any, wallets: Wallets, user_id: str) -> None:
    method_id = wallets.add_method(user_id, token="tok_mock_no_webhook")
    started = wallets.initiate(user_id, method_id).body
    wallets.pay(started["order_id"])
    assert wallets.balance(user_id) == "0.00"
    report = _sweep(aws)
    assert report["outcomes"].get("credited", 0) >= 1
    _sweep(aws)
    assert wallets.balance(user_id) == "1000.50"
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "COMPLETED"


@pytest.mark.usefixtures("no_min_age")
def test_an_unpaid_deposit_stays_pending_until_it_expires(
    aws: Any, wallets: Wallets, user_id: str, travel: Travel
) -> None:
    method_id = wallets.add_method(user_id)
    started = wallets.initiate(user_id, method_id).body
    _sweep(aws)
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"
    travel.forward(timedelta(hours=25))
    _sweep(aws)
    txn = wallets.transaction(user_id, started["transaction_id"])
    assert (txn["status"], txn["failure_reason"]) == ("FAILED", "expired: no payment was completed in time")
    assert wallets.balance(user_id) == "0.00"
    from payments.store.audit_table import AuditRecordItem

    audited = {
        item.event_type: item.actor
        for item in AuditRecordItem.query(f"USER#{user_id}")
        if item.transaction_id == started["transaction_id"]
    }
    assert audited == {"deposit_initiated": f"user:{user_id}", "deposit_expired": "job:deposit-sweeper"}


def test_young_deposits_are_left_alone(aws: Any, wallets: Wallets, user_id: str) -> None:
    method_id = wallets.add_method(user_id, token="tok_mock_no_webhook")
    started = wallets.initiate(user_id, method_id).body
    wallets.pay(started["order_id"])
    _sweep(aws)  # default minimum age: 10 minutes
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"
