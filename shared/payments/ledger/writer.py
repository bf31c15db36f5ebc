"""The ledger: the five wallet operations, each ONE ``TransactWriteItems``.

Every operation writes, atomically:

1. the wallet item, changed with ``ADD`` only (so concurrent operations never overwrite each
   other) and guarded by conditions: the movement's currency is the wallet's (set by its first
   movement), and ``available >= amount`` for debit and lock, ``locked >= amount`` for unlock and
   settle;
2. an immutable ledger entry keyed by ``(transaction, kind)`` with ``attribute_not_exists``, so
   the same operation for the same transaction is applied at most once, however often it is
   retried or whichever of confirm, webhook or recovery job asks first;
3. the transaction record: created (``attribute_not_exists``, with its ``REF#`` pointer) or moved
   from an expected status.

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

from payments.audit import records
from payments.core.clock import utcnow
from payments.core.errors import CurrencyMismatch, InsufficientBalance, InvalidAmount, LedgerConflict, ServiceBusy
from payments.kyc.usage import LimitCharge, wallet_parts
from payments.ledger.errors import AlreadyApplied, DuplicateRecord, ExtraConditionFailed, WalletRefused
from payments.ledger.types import FINAL_STATUSES, EntryKind, TransactionStatus, TransactionType
from payments.platform.settings import settings
from payments.store.audit_table import AuditRecordItem
from payments.store.ledger_table import (
    WALLET_SK,
    LedgerEntryItem,
    PointerItem,
    TransactionItem,
    WalletItem,
    entry_sk,
    reference_key,
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
    """Create the transaction record in the same write as the movement. ``referable`` records
    (what webhooks, admins and jobs look up by id alone) get their ``REF#`` pointer in the same
    write, which also makes their id unique across users."""

    txn_id: str
    type: TransactionType
    status: TransactionStatus
    currency: str = field(default_factory=lambda: settings.wallet_currency)
    description: str | None = None
    reference_id: str | None = None
    attributes: tuple[tuple[str, Any], ...] = ()
    referable: bool = False


@dataclass(frozen=True)
class StatusChange:
    """Move an existing transaction record, only if it is still in one of ``from_statuses``.
    ``attributes`` are set on the record in the same write (e.g. the gateway payment id); a move
    to a final status takes the record off its recovery job's list. ``currency`` is the
    transaction's (the wallet's, unless said otherwise)."""

    txn_id: str
    from_statuses: tuple[TransactionStatus, ...]
    to_status: TransactionStatus
    failure_reason: str | None = None
    attributes: tuple[tuple[str, Any], ...] = ()
    currency: str = field(default_factory=lambda: settings.wallet_currency)
    type: TransactionType | str | None = None  # for the audit record's event type
    gateway: str | None = None  # for the audit record


def audited(txn: TransactionItem) -> dict[str, Any]:
    """The :class:`StatusChange` fields of an existing record that its audit record names."""
    return {"type": txn.type, "gateway": txn.gateway}


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
Writer = Callable[[TransactWrite, datetime], list[str]]


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
        lock, :class:`CurrencyMismatch` when the wallet holds another currency,
        :class:`AlreadyApplied` when this (transaction, kind) was applied before, and
        :class:`LedgerConflict` when the transaction is not in an expected status or the locked
        funds to release are missing. With a ``limit`` charge, KYC usage changes in the same write
        and :class:`LimitExceeded` (PAY_005) refuses what would exceed it.
        """
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise InvalidAmount("ledger amounts are positive integer minor units")
        currency = change.currency
        now = utcnow()

        def write(known: WalletItem | None) -> Writer:
            return lambda tx, now: self._write(tx, user_id, kind, amount, currency, change, extra, limit, known, now)

        self._with_wallet(user_id, write, kind, amount, currency, change)
        return LedgerEntry(user_id, change.txn_id, kind, amount, now)

    # The five operations of the spec, each one atomic write:
    # ``ledger.credit(user_id, amount, change, extra=(), limit=None)`` and so on.
    credit = partialmethod(post, EntryKind.CREDIT)
    debit = partialmethod(post, EntryKind.DEBIT)
    lock = partialmethod(post, EntryKind.LOCK)
    unlock = partialmethod(post, EntryKind.UNLOCK)
    settle_locked = partialmethod(post, EntryKind.SETTLE)

    def open(
        self,
        user_id: str,
        amount: int,
        change: NewTransaction,
        limit: LimitCharge | None = None,
        extra: tuple[Extra, ...] = (),
    ) -> TransactionItem:
        """Record a transaction that moves no money (yet), only if its id is new; with a ``limit``
        it also reserves KYC usage (a deposit initiated) in the same write, under the wallet's
        currency, so the usage and the record exist together or not at all. Returns the record
        as written; a record that exists already is :class:`LedgerConflict`."""
        written: list[TransactionItem] = []

        def write(known: WalletItem | None) -> Writer:
            def add(tx: TransactWrite, now: datetime) -> list[str]:
                item = _new_transaction_item(user_id, amount, change, now)
                written[:] = [item]
                puts = _add_new_transaction(tx, item, change.referable)
                updates = []
                if limit is not None:
                    _update_usage(tx, user_id, limit, known, now, change.currency)
                    updates.append("wallet")
                put_roles, update_roles = _add_extras(tx, extra)
                tx.save(_audit_record(user_id, change, None, amount, now))
                return [*puts, *put_roles, "audit", *updates, *update_roles]

            return add

        self._with_wallet(user_id, write, None, 0, change.currency if limit else None, change)
        return written[0]

    def transition(
        self,
        user_id: str,
        change: StatusChange,
        extra: tuple[Extra, ...] = (),
        limit: LimitCharge | None = None,
    ) -> None:
        """Move a transaction's status without moving money (e.g. a deposit the gateway closed),
        under the same status condition and with the same extra records as :meth:`post`; a
        ``limit`` give-back returns the usage the transaction had reserved."""

        def write(known: WalletItem | None) -> Writer:
            def add(tx: TransactWrite, now: datetime) -> list[str]:
                tx.update(
                    TransactionItem(user_pk(user_id), txn_sk(change.txn_id)),
                    actions=_status_actions(change, now),
                    condition=TransactionItem.status.is_in(*change.from_statuses),
                )
                updates = ["transaction"]
                if limit is not None:
                    _update_usage(tx, user_id, limit, known, now, None)
                    updates.append("wallet")
                put_roles, update_roles = _add_extras(tx, extra)
                tx.save(_audit_record(user_id, change, None, 0, now))
                return [*put_roles, "audit", *updates, *update_roles]

            return add

        self._with_wallet(user_id, write, None, 0, None, change)

    def _with_wallet(
        self,
        user_id: str,
        write: Callable[[WalletItem | None], Writer],
        kind: EntryKind | None,
        amount: int,
        currency: str | None,
        change: NewTransaction | StatusChange,
    ) -> None:
        """Commit. When the wallet's condition fails, read it once to tell why: another currency
        (:class:`CurrencyMismatch`), not enough funds, a KYC limit, or a new day or month - then
        the write is repeated with the usage periods rolled over (or with fresh state after a
        race)."""
        known: WalletItem | None = None
        for _ in range(3):
            try:
                self._commit(write(known), kind, change)
                return
            except WalletRefused:
                known = self._wallet(user_id)
                if currency and known.currency and known.currency != currency:
                    raise CurrencyMismatch(wallet_currency=known.currency, currency=currency) from None
                guard = _EFFECTS[kind].guard if kind is not None else None
                if guard == "available" and known.available < amount:
                    raise InsufficientBalance() from None
                if guard == "locked" and known.locked < amount:
                    raise LedgerConflict("Locked funds do not cover this operation", txn_id=change.txn_id) from None
        raise ServiceBusy()

    def _wallet(self, user_id: str) -> WalletItem:
        """The wallet as stored now (strongly consistent), read through this ledger's connection."""
        raw = self._connection.client.get_item(
            TableName=WalletItem.Meta.table_name,
            Key={"pk": {"S": user_pk(user_id)}, "sk": {"S": WALLET_SK}},
            ConsistentRead=True,
        ).get("Item")
        if raw is None:
            return WalletItem(user_pk(user_id), WALLET_SK, user_id=user_id)
        return WalletItem.from_raw_data(raw)

    def _commit(self, write: Writer, kind: EntryKind | None, change: NewTransaction | StatusChange) -> None:
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
                raise _refusal(kind, change, dict(zip(roles, reasons, strict=False))) from exc
            return
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(
        self,
        tx: TransactWrite,
        user_id: str,
        kind: EntryKind,
        amount: int,
        currency: str,
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
            WalletItem.currency.set(WalletItem.currency | currency),
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
        guard = _same_currency(currency)
        if effect.guard is not None:
            guard &= getattr(WalletItem, effect.guard) >= amount
        if limit is not None:
            usage_actions, usage_condition = wallet_parts(limit, known)
            wallet_actions += usage_actions
            guard &= usage_condition
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
        updates = ["wallet"]
        tx.update(WalletItem(pk, WALLET_SK), actions=wallet_actions, condition=guard)
        tx.save(entry, condition=LedgerEntryItem.pk.does_not_exist())
        puts = ["entry"]
        if isinstance(change, NewTransaction):
            puts += _add_new_transaction(tx, _new_transaction_item(user_id, amount, change, now), change.referable)
        else:
            tx.update(
                TransactionItem(pk, txn_sk(change.txn_id)),
                actions=_status_actions(change, now),
                condition=TransactionItem.status.is_in(*change.from_statuses),
            )
            updates.append("transaction")
        put_roles, update_roles = _add_extras(tx, extra)
        tx.save(_audit_record(user_id, change, kind, amount, now), condition=AuditRecordItem.pk.does_not_exist())
        return [*puts, *put_roles, "audit", *updates, *update_roles]


def _audit_record(
    user_id: str, change: NewTransaction | StatusChange, kind: EntryKind | None, amount: int, now: datetime
) -> AuditRecordItem:
    """The audit record of this write, committed with it (payments.audit.records): keyed by the
    entry when money moves, so the verifier can tell an entry that has none."""
    attributes = dict(change.attributes)
    if isinstance(change, NewTransaction):
        kind_of, status = change.type, change.status
        gateway = attributes.get("gateway")
        outcome = "initiated" if status in (TransactionStatus.PENDING, TransactionStatus.PROCESSING) else status
    else:
        kind_of, status, gateway = change.type, change.to_status, change.gateway or attributes.get("gateway")
        expired = status == TransactionStatus.FAILED and (change.failure_reason or "").startswith("expired")
        outcome = "expired" if expired else status
    event_type = f"{str(kind_of or 'transaction').lower()}_{str(outcome).lower()}"
    details = {"stage": attributes.get("stage")}
    if isinstance(change, NewTransaction):
        details["reference_id"] = change.reference_id
    else:
        details["failure_reason"] = change.failure_reason
    common: dict[str, Any] = {
        "amount": amount or None,
        "currency": change.currency,
        "gateway": gateway,
        "status": str(status),
        "details": details,
        "at": now,
    }
    if kind is not None:
        return records.for_entry(event_type, user_id=user_id, txn_id=change.txn_id, kind=str(kind), **common)
    return records.build(
        event_type, chain=records.user_chain(user_id), user_id=user_id, transaction_id=change.txn_id, **common
    )


def _same_currency(currency: str) -> Condition:
    """The wallet holds ``currency``, or nothing yet (its first movement sets it)."""
    return WalletItem.currency.does_not_exist() | (WalletItem.currency == currency)


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


def _add_new_transaction(tx: TransactWrite, item: TransactionItem, referable: bool) -> list[str]:
    """The record (and its ``REF#`` pointer), only if new."""
    tx.save(item, condition=TransactionItem.pk.does_not_exist())
    if not referable:
        return ["transaction"]
    pointer = PointerItem(reference_key(item.txn_id), "REF", user_id=item.user_id, txn_id=item.txn_id)
    tx.save(pointer, condition=PointerItem.pk.does_not_exist())
    return ["transaction", "pointer"]


def _update_usage(
    tx: TransactWrite,
    user_id: str,
    limit: LimitCharge,
    known: WalletItem | None,
    now: datetime,
    currency: str | None,
) -> None:
    actions, condition = wallet_parts(limit, known)
    actions += [WalletItem.user_id.set(user_id), WalletItem.updated_at.set(now), WalletItem.version.add(1)]
    if currency:
        actions.append(WalletItem.currency.set(WalletItem.currency | currency))
        condition &= _same_currency(currency)
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
    names = {name for name, _ in change.attributes}
    if change.to_status in FINAL_STATUSES:
        actions.append(TransactionItem.completed_at.set(now))
        if "gsi2pk" not in names:
            actions.append(TransactionItem.gsi2pk.remove())  # leaves the recovery job's list
            actions.append(TransactionItem.gsi2sk.remove())
    if change.failure_reason:
        actions.append(TransactionItem.failure_reason.set(change.failure_reason))
    for name, value in change.attributes:
        actions.append(getattr(TransactionItem, name).set(value))
    return actions


def _refusal(
    kind: EntryKind | None, change: NewTransaction | StatusChange, reasons: dict[str, str | None]
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
    if failed & {"transaction", "pointer"}:
        return LedgerConflict(txn_id=change.txn_id)
    if "wallet" in failed:
        return WalletRefused()
    return LedgerConflict(f"Ledger write cancelled: {reasons}", txn_id=change.txn_id)
