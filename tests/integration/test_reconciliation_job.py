"""The reconciliation job as deployed (its own role): every wallet recomputed from its ledger
entries, a wallet edited outside the ledger reported with its user id and nothing else reported,
the pass resumed across runs, overdue in-flight records counted. It never edits a balance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.ledger import reconciliation
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from payments.store.ledger_table import WALLET_SK, WalletItem, user_pk
from payments.store.ops_table import ReconciliationItem
from tests.support.fixtures import Travel, run_job


def _credited(user_id: str, minor: int) -> None:
    Ledger().credit(
        user_id,
        minor,
        NewTransaction(f"fund_{user_id}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED, "INR"),
    )


@pytest.fixture
def edited_wallet(aws: Any, user_id: str) -> Iterator[str]:
    """A wallet whose balance someone changed in the table, not through the ledger (+ 500.00);
    put back afterwards so the suite's invariant check passes."""
    _credited(user_id, 10_000)
    WalletItem(user_pk(user_id), WALLET_SK).update(
        actions=[WalletItem.balance.add(50_000), WalletItem.available.add(50_000)]
    )
    yield user_id
    WalletItem(user_pk(user_id), WALLET_SK).update(
        actions=[WalletItem.balance.add(-50_000), WalletItem.available.add(-50_000)]
    )


def _whole_pass(aws: Any) -> list[dict[str, Any]]:
    """Runs of the scheduled function until one ends its pass (earlier runs may have stopped
    the pass midway: each run continues from the stored cursor)."""
    runs = [run_job(aws, "ReconciliationFunction")]
    while not runs[-1]["pass_complete"]:
        runs.append(run_job(aws, "ReconciliationFunction"))
    return runs


def test_a_wallet_edited_outside_the_ledger_is_reported_and_nothing_else(aws: Any, edited_wallet: str) -> None:
    healthy = f"{edited_wallet}_ok"
    _credited(healthy, 20_000)
    runs = _whole_pass(aws)
    if runs[0]["continued"]:  # an earlier test's pass was left midway: finish it, then a full one
        runs = _whole_pass(aws)
    differences: dict[str, list[str]] = {}
    for run in runs:
        differences.update(run["differences"])
    assert differences == {edited_wallet: ["balance 60000 != sum of entries 10000"]}
    assert sum(run["wallets"] for run in runs) >= 2
    stored = json.loads(ReconciliationItem.get(runs[-1]["report_key"]).body)
    assert stored["differences"] == runs[-1]["differences"]
    assert WalletItem.get(user_pk(edited_wallet), WALLET_SK).balance == 60_000  # reported, not repaired


def test_the_pass_resumes_where_a_run_stopped(aws: Any, edited_wallet: str) -> None:
    """Runs out of time after each page: the pass still covers every wallet, across runs."""
    for n in range(3):
        _credited(f"{edited_wallet}_{n}", 1_000)
    seen: dict[str, list[str]] = {}
    pages = 0
    cursor = None
    while True:
        result = reconciliation.scan_wallets(cursor, Deadline(lambda: 0.0), page_size=2)
        pages += result.pages
        seen.update(result.differences)
        cursor = result.cursor
        if cursor is None:
            break
    assert pages > 3
    assert list(seen) == [edited_wallet]


def test_in_flight_records_past_their_bound_are_counted(aws: Any, wallets: Any, user_id: str, travel: Travel) -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token="tok_mock_no_webhook"), "10.00").body
    before = jobs.reconcile(Deadline(lambda: 0.0)).overdue["DEPOSIT"]
    travel.forward(timedelta(days=3))  # past DEPOSIT_EXPIRY_HOURS + its grace: the sweeper should have ended it
    run = jobs.reconcile(Deadline(lambda: 0.0))
    after = run.overdue["DEPOSIT"]
    assert after >= before + 1
    assert run.oldest_minutes["DEPOSIT"] >= 3 * 24 * 60  # the oldest PENDING deposit's age
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"  # counted, not touched
