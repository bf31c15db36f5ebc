"""Random sequences of the five wallet operations keep the money invariants after every step.

A hypothesis state machine drives the real ledger against DynamoDB (moto) next to a trivially
correct model; after each step the stored wallet must equal the model and reconcile with its
entries, and every refusal must have changed nothing.
"""

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from payments.core.errors import InsufficientBalance, LedgerConflict
from payments.core.ids import new_ulid
from payments.ledger.errors import AlreadyApplied
from payments.ledger.reconciliation import reconcile_user
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction, StatusChange
from payments.store.ledger_table import WALLET_SK, WalletItem, user_pk
from tests.support.fixtures import unique_id

amounts = st.integers(min_value=1, max_value=50_000)
PROCESSING, COMPLETED, FAILED = (
    TransactionStatus.PROCESSING,
    TransactionStatus.COMPLETED,
    TransactionStatus.FAILED,
)


class LedgerMachine(RuleBasedStateMachine):
    locks = Bundle("locks")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.user_id = unique_id("prop")
        self.balance = self.locked = 0
        self.finished: list[tuple[str, int]] = []

    def _txn(self) -> str:
        # Our own id scheme: a uuid's hex can hold 13+ decimal digits in a row that pass Luhn,
        # which the end-of-session card-data scan would rightly report.
        return f"txn_{new_ulid()}"

    @rule(amount=amounts)
    def credit(self, amount: int) -> None:
        self.ledger.credit(self.user_id, amount, NewTransaction(self._txn(), TransactionType.DEPOSIT, COMPLETED))
        self.balance += amount

    @rule(amount=amounts)
    def debit(self, amount: int) -> None:
        change = NewTransaction(self._txn(), TransactionType.ADJUSTMENT, COMPLETED)
        if amount <= self.balance - self.locked:
            self.ledger.debit(self.user_id, amount, change)
            self.balance -= amount
        else:
            with pytest.raises(InsufficientBalance):
                self.ledger.debit(self.user_id, amount, change)

    @rule(target=locks, amount=amounts)
    def lock(self, amount: int) -> Any:
        txn_id = self._txn()
        change = NewTransaction(txn_id, TransactionType.WITHDRAWAL, PROCESSING)
        if amount <= self.balance - self.locked:
            self.ledger.lock(self.user_id, amount, change)
            self.locked += amount
            return (txn_id, amount)
        with pytest.raises(InsufficientBalance):
            self.ledger.lock(self.user_id, amount, change)
        return None

    @rule(held=consumes(locks), settle=st.booleans())
    def finish(self, held: tuple[str, int] | None, settle: bool) -> None:
        if held is None:
            return
        txn_id, amount = held
        if settle:
            self.ledger.settle_locked(self.user_id, amount, StatusChange(txn_id, (PROCESSING,), COMPLETED))
            self.balance -= amount
        else:
            self.ledger.unlock(self.user_id, amount, StatusChange(txn_id, (PROCESSING,), FAILED))
        self.locked -= amount
        self.finished.append(held)

    @rule(data=st.data())
    def replay_a_finished_operation(self, data: st.DataObject) -> None:
        """A retried settle/unlock of a finished withdrawal must never move money again."""
        if not self.finished:
            return
        txn_id, amount = data.draw(st.sampled_from(self.finished))
        change = StatusChange(txn_id, (PROCESSING,), COMPLETED)
        with pytest.raises((AlreadyApplied, LedgerConflict)):
            self.ledger.settle_locked(self.user_id, amount, change)
        with pytest.raises((AlreadyApplied, LedgerConflict)):
            self.ledger.unlock(self.user_id, amount, change)

    @invariant()
    def stored_wallet_matches_the_model_and_its_entries(self) -> None:
        try:
            wallet = WalletItem.get(user_pk(self.user_id), WALLET_SK, consistent_read=True)
            stored = (wallet.balance, wallet.locked, wallet.available)
        except WalletItem.DoesNotExist:
            stored = (0, 0, 0)
        assert stored == (self.balance, self.locked, self.balance - self.locked)
        assert reconcile_user(self.user_id) == []


@pytest.mark.usefixtures("aws")
def test_random_operation_sequences_keep_the_invariants() -> None:
    run = LedgerMachine.TestCase
    run.settings = settings(
        max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "15")),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    run().runTest()
