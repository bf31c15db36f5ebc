"""The five wallet operations against DynamoDB (moto): each one atomic write with conditions."""

from typing import Any

import pytest
from pynamodb.connection import Connection

from payments.core.caller import KycLevel
from payments.core.errors import InsufficientBalance, LedgerConflict, ServiceBusy
from payments.flows import wallets
from payments.ledger.errors import AlreadyApplied
from payments.ledger.reconciliation import reconcile_user
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction, StatusChange
from payments.store.ledger_table import TransactionItem, txn_sk, user_pk

pytestmark = pytest.mark.usefixtures("aws")

COMPLETED = TransactionStatus.COMPLETED
PENDING = TransactionStatus.PENDING


def _new(txn_id: str, kind: TransactionType = TransactionType.ADJUSTMENT, status: TransactionStatus = COMPLETED):
    return NewTransaction(txn_id=txn_id, type=kind, status=status, description="test")


def _balance(user_id: str) -> tuple[int, int, int]:
    view = wallets.get_balance(user_id, KycLevel.BASIC)
    return view.balance, view.locked, view.available


def test_credit_creates_the_wallet_on_first_use(user_id: str) -> None:
    Ledger().credit(user_id, 150_000, _new("txn_a", TransactionType.DEPOSIT))
    assert _balance(user_id) == (150_000, 0, 150_000)
    item = TransactionItem.get(user_pk(user_id), txn_sk("txn_a"))
    assert (item.status, item.amount, item.type) == ("COMPLETED", 150_000, "DEPOSIT")
    assert item.completed_at is not None
    assert reconcile_user(user_id) == []


def test_debit_beyond_available_is_pay_002_and_changes_nothing(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 10_000, _new("txn_in"))
    ledger.lock(user_id, 6_000, _new("txn_lock"))
    with pytest.raises(InsufficientBalance) as refused:
        ledger.debit(user_id, 4_001, _new("txn_out"))
    assert refused.value.code == "PAY_002"
    assert _balance(user_id) == (10_000, 6_000, 4_000)
    with pytest.raises(TransactionItem.DoesNotExist):
        TransactionItem.get(user_pk(user_id), txn_sk("txn_out"))


def test_debit_on_a_wallet_that_never_existed_is_pay_002(user_id: str) -> None:
    with pytest.raises(InsufficientBalance):
        Ledger().debit(user_id, 1, _new("txn_x"))
    assert _balance(user_id) == (0, 0, 0)


def test_lock_then_settle_pays_out_the_reserve(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 50_000, _new("txn_dep"))
    ledger.lock(user_id, 20_000, _new("txn_wd", TransactionType.WITHDRAWAL, TransactionStatus.PROCESSING))
    assert _balance(user_id) == (50_000, 20_000, 30_000)
    ledger.settle_locked(user_id, 20_000, StatusChange("txn_wd", (TransactionStatus.PROCESSING,), COMPLETED))
    assert _balance(user_id) == (30_000, 0, 30_000)
    assert TransactionItem.get(user_pk(user_id), txn_sk("txn_wd")).status == "COMPLETED"


def test_lock_then_unlock_releases_the_reserve(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 50_000, _new("txn_dep"))
    ledger.lock(user_id, 20_000, _new("txn_wd", TransactionType.WITHDRAWAL, TransactionStatus.PROCESSING))
    ledger.unlock(
        user_id,
        20_000,
        StatusChange("txn_wd", (TransactionStatus.PROCESSING,), TransactionStatus.FAILED, "payout failed"),
    )
    assert _balance(user_id) == (50_000, 0, 50_000)
    item = TransactionItem.get(user_pk(user_id), txn_sk("txn_wd"))
    assert (item.status, item.failure_reason) == ("FAILED", "payout failed")


def test_lock_more_than_available_is_pay_002(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 1_000, _new("txn_dep"))
    with pytest.raises(InsufficientBalance):
        ledger.lock(user_id, 1_001, _new("txn_wd"))
    assert _balance(user_id) == (1_000, 0, 1_000)


def test_unlock_or_settle_more_than_locked_is_refused(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 1_000, _new("txn_dep"))
    ledger.lock(user_id, 500, _new("txn_wd", status=TransactionStatus.PROCESSING))
    change = StatusChange("txn_wd", (TransactionStatus.PROCESSING,), COMPLETED)
    with pytest.raises(LedgerConflict):
        ledger.settle_locked(user_id, 501, change)
    with pytest.raises(LedgerConflict):
        ledger.unlock(user_id, 501, change)
    assert _balance(user_id) == (1_000, 500, 500)


def test_pending_deposit_is_credited_once_whoever_reports_it(user_id: str) -> None:
    """Confirm, webhook and sweeper all try to complete the same PENDING deposit."""
    ledger = Ledger()
    TransactionItem(  # the pending record itself moves no money (deposit initiation writes it)
        user_pk(user_id),
        txn_sk("txn_p"),
        txn_id="txn_p",
        user_id=user_id,
        type="DEPOSIT",
        status="PENDING",
        amount=75_000,
        created_at=_now(),
        updated_at=_now(),
    ).save()
    complete = StatusChange("txn_p", (PENDING,), COMPLETED)
    ledger.credit(user_id, 75_000, complete)
    for _ in range(3):
        with pytest.raises(AlreadyApplied):
            ledger.credit(user_id, 75_000, complete)
    assert _balance(user_id) == (75_000, 0, 75_000)


def test_a_finished_transaction_cannot_be_credited_by_another_path(user_id: str) -> None:
    ledger = Ledger()
    ledger.credit(user_id, 100, _new("txn_f", status=TransactionStatus.FAILED))
    with pytest.raises(LedgerConflict):
        ledger.debit(user_id, 100, StatusChange("txn_f", (PENDING,), COMPLETED))
    assert _balance(user_id) == (100, 0, 100)


def test_status_change_of_a_missing_transaction_is_refused(user_id: str) -> None:
    with pytest.raises(LedgerConflict):
        Ledger().credit(user_id, 100, StatusChange("txn_missing", (PENDING,), COMPLETED))
    assert _balance(user_id) == (0, 0, 0)


@pytest.mark.parametrize("amount", [0, -5, 10.0, True])
def test_ledger_refuses_non_positive_or_non_integer_amounts(user_id: str, amount: Any) -> None:
    with pytest.raises(Exception, match="positive integer minor units"):
        Ledger().credit(user_id, amount, _new("txn_bad"))


class _ConflictingConnection(Connection):
    """DynamoDB cancels a transaction with TransactionConflict when another holds the item; moto
    never does, so the fault is injected at the connection."""

    def __init__(self, conflicts: int) -> None:
        super().__init__(region="us-east-1")
        self.remaining = conflicts
        self.calls = 0

    def transact_write_items(self, *args: Any, **kwargs: Any) -> Any:
        from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

        self.calls += 1
        if self.remaining > 0:
            self.remaining -= 1
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                "TransactWriteItems",
                cancellation_reasons=[None, None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("Failed to write transaction items", cause=cause)
        return super().transact_write_items(*args, **kwargs)


def test_transaction_conflicts_are_retried(user_id: str) -> None:
    connection = _ConflictingConnection(conflicts=3)
    Ledger(connection).credit(user_id, 500, _new("txn_r"))
    assert connection.calls == 4
    assert _balance(user_id) == (500, 0, 500)


def test_persistent_conflicts_end_in_service_busy_with_nothing_changed(user_id: str) -> None:
    with pytest.raises(ServiceBusy):
        Ledger(_ConflictingConnection(conflicts=100)).credit(user_id, 500, _new("txn_r"))
    assert _balance(user_id) == (0, 0, 0)


def _now():
    from payments.core.clock import utcnow

    return utcnow()
