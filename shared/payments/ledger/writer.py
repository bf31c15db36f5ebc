"""The ledger: the five wallet operations, each ONE ``TransactWriteItems``.

Every operation writes, atomically:

1. the wallet item, changed with ``ADD`` only (so concurrent operations never overwrite each
   other) and guarded by a condition (``available >= amount`` for debit and lock,
   ``locked >= amount`` for unlock and settle);
2. an immutable ledger entry keyed by ``(transaction, kind)`` with ``attribute_not_exists``, so
   the same operation for the same transaction is applied at most once, however often it is
   retried or whichever of confirm, webhook or sweeper asks first;
3. the transaction record: created (``attribute_not_exists``) or moved from an expected status.

``available`` is stored next to ``balance`` and ``locked`` because DynamoDB conditions cannot do
arithmetic; every operation keeps ``balance == available + locked`` by construction, so
``available >= 0`` is exactly "locked <= balance and nothing overspent".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partialmethod
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from payments.core.clock import utcnow
from payments.core.errors import InsufficientBalance, InvalidAmount, LedgerConflict, ServiceBusy
from payments.kyc.usage import LimitCharge, wallet_parts
from payments.ledger.errors import AlreadyApplied, DuplicateRecord, ExtraConditionFailed, WalletRefused
from payments.ledger.types import FINAL_STATUSES, EntryKind, TransactionStatus, TransactionType
from payments.store.ledger_table import (
    WALLET_SK,
    LedgerEntryItem,
    TransactionItem,
    WalletItem,
    current_wallet,
    entry_sk,
    txn_sk,
    user_pk,
)


@dataclass(frozen=True)
class _Effect:
    balance: int
    locked: int
    available: int
    guard: str | None  # the wallet attribute that must cover the amount


_EFFECTS: dict[EntryKind, _Effect] = {
    EntryKind.CREDIT: _Effect(+1, 0, +1, None),
    EntryKind.DEBIT: _Effect(-1, 0, -1, "available"),
    EntryKind.LOCK: _Effect(0, +1, -1, "available"),
    EntryKind.UNLOCK: _Effect(0, -1, +1, "locked"),
    EntryKind.SETTLE: _Effect(-1, -1, 0, "locked"),
}


@dataclass(frozen=True)
class NewTransaction:
    """Create the transaction record in the same write as the money movement."""

    txn_id: str
    type: TransactionType
    status: TransactionStatus
    currency: str = "INR"
    description: str | None = None
    reference_id: str | None = None
    attributes: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class StatusChange:
    """Move an existing transaction record, only if it is still in one of ``from_statuses``.
    ``attributes`` are set on the record in the same write (e.g. the gateway payment id)."""

    txn_id: str
    from_statuses: tuple[TransactionStatus, ...]
    to_status: TransactionStatus
    failure_reason: str | None = None
    attributes: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ExtraPut:
    """Another item written in the same transaction, only if its key is new (e.g. the record of
    the webhook event that caused this movement: event and money are recorded together or not
    at all). A clash is reported as :class:`DuplicateRecord`."""

    item: Model
    role: str


@dataclass(frozen=True)
class ExtraUpdate:
    """Another item updated in the same transaction under its own condition (e.g. a deposit's
    refunded amount, which must never exceed what was paid). A failed condition is reported as
    :class:`ExtraConditionFailed` and nothing is written."""

    item: Model
    actions: tuple[Any, ...]
    condition: Condition | None
    role: str


Extra = ExtraPut | ExtraUpdate


@dataclass(frozen=True)
class LedgerEntry:
    user_id: str
    txn_id: str
    kind: EntryKind
    amount: int
    created_at: datetime = field(compare=False)


#: DynamoDB cancels a transaction with ``TransactionConflict`` when another one holds the item;
#: that is contention, not a business outcome, and is retried with jittered backoff.
_MAX_ATTEMPTS = 6
_BASE_BACKOFF_S = 0.02


class Ledger:
    """The only writer of wallet balances. One instance per thread/connection is fine."""

    def __init__(self, connection: Connection | None = None) -> None:
        self._connection = connection or Connection(region=WalletItem.Meta.region, host=WalletItem.Meta.host)

    def post(
        self,
        kind: EntryKind,
        user_id: str,
        amount: int,
        change: NewTransaction | StatusChange,
        extra: tuple[Extra, ...] = (),
        limit: LimitCharge | None = None,
    ) -> LedgerEntry:
        """Apply one operation atomically, or raise and change nothing.

        Raises :class:`InsufficientBalance` (PAY_002) when available funds do not cover a debit or
        lock, :class:`AlreadyApplied` when this (transaction, kind) was applied before, and
        :class:`LedgerConflict` when the transaction is not in an expected status or the locked
        funds to release are missing. With a ``limit`` charge, KYC usage changes in the same write
        and :class:`LimitExceeded` (PAY_005) refuses what would exceed it.
        """
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise InvalidAmount("ledger amounts are positive integer minor units")
        now = utcnow()

        def write(known: WalletItem | None) -> Callable[[TransactWrite, datetime], list[str]]:
            return lambda tx, now: self._write(tx, user_id, kind, amount, change, extra, limit, known, now)

        self._with_usage(user_id, write, kind, amount, change, limit)
        return LedgerEntry(user_id, change.txn_id, kind, amount, now)

    # The five operations of the spec, each one atomic write:
    # ``ledger.credit(user_id, amount, change, extra=(), limit=None)`` and so on.
    credit = partialmethod(post, EntryKind.CREDIT)
    debit = partialmethod(post, EntryKind.DEBIT)
    lock = partialmethod(post, EntryKind.LOCK)
    unlock = partialmethod(post, EntryKind.UNLOCK)
    settle_locked = partialmethod(post, EntryKind.SETTLE)

    def open(
        self, user_id: str, amount: int, change: NewTransaction, limit: LimitCharge | None = None
    ) -> TransactionItem:
        """Record a transaction that moves no money (yet), only if its id is new; with a ``limit``
        it also reserves KYC usage (a deposit initiated) in the same write, so the usage and the
        record exist together or not at all. Returns the record as written; a record that exists
        already is :class:`LedgerConflict`."""
        written: list[TransactionItem] = []

        def write(known: WalletItem | None) -> Callable[[TransactWrite, datetime], list[str]]:
            def add(tx: TransactWrite, now: datetime) -> list[str]:
                item = _new_transaction_item(user_id, amount, change, now)
                tx.save(item, condition=TransactionItem.pk.does_not_exist())
                written[:] = [item]
                if limit is None:
                    return ["transaction"]
                _update_usage(tx, user_id, limit, known, now)
                return ["transaction", "wallet"]

            return add

        self._with_usage(user_id, write, None, 0, change, limit)
        return written[0]

    def _with_usage(
        self,
        user_id: str,
        write: Callable[[WalletItem | None], Callable[[TransactWrite, datetime], list[str]]],
        kind: EntryKind | None,
        amount: int,
        change: NewTransaction | StatusChange,
        limit: LimitCharge | None,
    ) -> None:
        """Commit; when a usage condition may be why the wallet refused, read the wallet once and
        either refuse with the right error or write again with the periods rolled over."""
        known: WalletItem | None = None
        for _ in range(3):
            try:
                self._commit(write(known), kind, change, wallet_is_ambiguous=limit is not None)
                return
            except WalletRefused:
                known = current_wallet(user_id)
                guard = _EFFECTS[kind].guard if kind is not None else None
                if guard == "available" and known.available < amount:
                    raise InsufficientBalance() from None
                if guard == "locked" and known.locked < amount:
                    raise LedgerConflict("Locked funds do not cover this operation", txn_id=change.txn_id) from None
        raise ServiceBusy()

    def transition(
        self,
        user_id: str,
        change: StatusChange,
        extra: tuple[Extra, ...] = (),
        limit: LimitCharge | None = None,
    ) -> None:
        """Move a transaction's status without moving money (e.g. a deposit the gateway declined),
        under the same status condition and with the same extra records as :meth:`post`; a
        ``limit`` give-back returns the usage the transaction had reserved."""

        def write(known: WalletItem | None) -> Callable[[TransactWrite, datetime], list[str]]:
            def add(tx: TransactWrite, now: datetime) -> list[str]:
                tx.update(
                    TransactionItem(user_pk(user_id), txn_sk(change.txn_id)),
                    actions=_status_actions(change, now),
                    condition=TransactionItem.status.is_in(*change.from_statuses),
                )
                updates = ["transaction"]
                if limit is not None:
                    _update_usage(tx, user_id, limit, known, now)
                    updates.append("wallet")
                put_roles, update_roles = _add_extras(tx, extra)
                return [*put_roles, *updates, *update_roles]

            return add

        self._with_usage(user_id, write, None, 0, change, limit)

    def _commit(
        self,
        write: Callable[[TransactWrite, datetime], list[str]],
        kind: EntryKind | None,
        change: NewTransaction | StatusChange,
        wallet_is_ambiguous: bool = False,
    ) -> None:
        """Run one TransactWriteItems; retry DynamoDB's TransactionConflict, map refusals."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            roles: list[str] = []
            try:
                with TransactWrite(connection=self._connection) as tx:
                    roles = write(tx, utcnow())
            except TransactWriteError as exc:
                reasons = [reason.code if reason else None for reason in exc.cancellation_reasons]
                if not reasons:
                    raise
                if "TransactionConflict" in reasons and "ConditionalCheckFailed" not in reasons:
                    if attempt == _MAX_ATTEMPTS:
                        raise ServiceBusy() from exc
                    time.sleep(random.uniform(0, _BASE_BACKOFF_S * 2**attempt))  # noqa: S311
                    continue
                refusal = _refusal(kind, change, dict(zip(roles, reasons, strict=False)), wallet_is_ambiguous)
                raise refusal from exc
            return
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(
        self,
        tx: TransactWrite,
        user_id: str,
        kind: EntryKind,
        amount: int,
        change: NewTransaction | StatusChange,
        extra: tuple[Extra, ...],
        limit: LimitCharge | None,
        known: WalletItem | None,
        now: datetime,
    ) -> list[str]:
        """Add the items of one operation to ``tx``; return each item's role in the order pynamodb
        sends them (all puts first, then all updates, each in the order added), so cancellation
        reasons can be matched to items."""
        effect = _EFFECTS[kind]
        pk = user_pk(user_id)
        wallet_actions = [
            WalletItem.user_id.set(user_id),
            WalletItem.created_at.set(WalletItem.created_at | now),
            WalletItem.updated_at.set(now),
            WalletItem.version.add(1),
        ]
        for attr, sign in (
            (WalletItem.balance, effect.balance),
            (WalletItem.locked, effect.locked),
            (WalletItem.available, effect.available),
        ):
            if sign:
                wallet_actions.append(attr.add(sign * amount))
        guard: Condition | None = None
        if effect.guard is not None:
            guard = getattr(WalletItem, effect.guard) >= amount
        if limit is not None:
            usage_actions, usage_condition = wallet_parts(limit, known)
            wallet_actions += usage_actions
            guard = usage_condition if guard is None else guard & usage_condition
        entry = LedgerEntryItem(
            pk,
            entry_sk(change.txn_id, kind),
            user_id=user_id,
            txn_id=change.txn_id,
            kind=str(kind),
            amount=amount,
            balance_delta=effect.balance * amount,
            locked_delta=effect.locked * amount,
            created_at=now,
        )
        puts = ["entry"]
        updates = ["wallet"]
        tx.update(WalletItem(pk, WALLET_SK), actions=wallet_actions, condition=guard)
        tx.save(entry, condition=LedgerEntryItem.pk.does_not_exist())
        if isinstance(change, NewTransaction):
            tx.save(
                _new_transaction_item(user_id, amount, change, now),
                condition=TransactionItem.pk.does_not_exist(),
            )
            puts.append("transaction")
        else:
            tx.update(
                TransactionItem(pk, txn_sk(change.txn_id)),
                actions=_status_actions(change, now),
                condition=TransactionItem.status.is_in(*change.from_statuses),
            )
            updates.append("transaction")
        put_roles, update_roles = _add_extras(tx, extra)
        return [*puts, *put_roles, *updates, *update_roles]


def _new_transaction_item(user_id: str, amount: int, change: NewTransaction, now: datetime) -> TransactionItem:
    return TransactionItem(
        user_pk(user_id),
        txn_sk(change.txn_id),
        txn_id=change.txn_id,
        user_id=user_id,
        type=str(change.type),
        status=str(change.status),
        amount=amount,
        currency=change.currency,
        description=change.description,
        reference_id=change.reference_id,
        created_at=now,
        updated_at=now,
        completed_at=now if change.status in FINAL_STATUSES else None,
        **dict(change.attributes),
    )


def _update_usage(tx: TransactWrite, user_id: str, limit: LimitCharge, known: WalletItem | None, now: datetime) -> None:
    actions, condition = wallet_parts(limit, known)
    actions += [WalletItem.user_id.set(user_id), WalletItem.updated_at.set(now), WalletItem.version.add(1)]
    tx.update(WalletItem(user_pk(user_id), WALLET_SK), actions=actions, condition=condition)


def _add_extras(tx: TransactWrite, extra: tuple[Extra, ...]) -> tuple[list[str], list[str]]:
    """Add the extra items; return their roles as (puts, updates), the order pynamodb sends them."""
    puts, updates = [], []
    for record in extra:
        if isinstance(record, ExtraPut):
            tx.save(record.item, condition=type(record.item).pk.does_not_exist())
            puts.append(f"extra:{record.role}")
        else:
            tx.update(record.item, actions=list(record.actions), condition=record.condition)
            updates.append(f"extra-update:{record.role}")
    return puts, updates


def _status_actions(change: StatusChange, now: datetime) -> list[Any]:
    actions: list[Any] = [
        TransactionItem.status.set(str(change.to_status)),
        TransactionItem.updated_at.set(now),
    ]
    if change.to_status in FINAL_STATUSES:
        actions.append(TransactionItem.completed_at.set(now))
    if change.to_status != TransactionStatus.PENDING:
        actions.append(TransactionItem.gsi2pk.remove())  # leaves the sweeper's work list
        actions.append(TransactionItem.gsi2sk.remove())
    if change.failure_reason:
        actions.append(TransactionItem.failure_reason.set(change.failure_reason))
    for name, value in change.attributes:
        actions.append(getattr(TransactionItem, name).set(value))
    return actions


def _refusal(
    kind: EntryKind | None,
    change: NewTransaction | StatusChange,
    reasons: dict[str, str | None],
    wallet_is_ambiguous: bool = False,
) -> Exception:
    """Turn the per-item cancellation reasons into the business error. A replay is reported as
    such even when the wallet would also refuse it now."""
    failed = {role for role, reason in reasons.items() if reason == "ConditionalCheckFailed"}
    duplicate = next((role for role in failed if role.startswith("extra:")), None)
    if duplicate:
        return DuplicateRecord(duplicate.removeprefix("extra:"))
    related = next((role for role in failed if role.startswith("extra-update:")), None)
    if related and "entry" not in failed:
        return ExtraConditionFailed(related.removeprefix("extra-update:"))
    if "entry" in failed and kind is not None:
        return AlreadyApplied(txn_id=change.txn_id, kind=str(kind))
    if "transaction" in failed:
        return LedgerConflict(txn_id=change.txn_id)
    if "wallet" in failed and wallet_is_ambiguous:
        return WalletRefused()
    if "wallet" in failed and kind is not None:
        if _EFFECTS[kind].guard == "available":
            return InsufficientBalance()
        return LedgerConflict("Locked funds do not cover this operation", txn_id=change.txn_id)
    return LedgerConflict(f"Ledger write cancelled: {reasons}", txn_id=change.txn_id)
