"""DynamoDB items of the ledger table (single table, ``pk``/``sk`` keys), via pynamodb.

``pk = USER#<user_id>`` groups everything of one user so that a wallet, its transactions and its
ledger entries are read with one Query and written in one ``TransactWriteItems``:

=============== =============================== ==============================================
item            key (pk / sk)                   notes
=============== =============================== ==============================================
wallet          ``USER#<id>`` / ``WALLET``      balance/locked/available in minor units, currency
transaction     ``USER#<id>`` / ``TXN#<txn>``   lifecycle record shown in the history
ledger entry    ``USER#<id>`` / ``ENTRY#<txn>#<kind>``   immutable posting; one per (transaction, kind)
method          ``USER#<id>`` / ``METHOD#<id>`` a stored payment method (sealed gateway token)
pointer         ``REF#<txn>`` / ``REF``         our id -> its user, written with the transaction
order pointer   ``ORDER#<gw>#<order>`` / ``ORDER``  a gateway order -> its deposit, written with the order
=============== =============================== ==============================================

Pointers are plain items read with a strongly consistent ``GetItem``: a webhook that arrives a
millisecond after the record was written finds it (a secondary index might not yet).

In-flight records (a PENDING deposit, a PROCESSING refund, an open withdrawal or dispute) carry
``gsi2pk = INFLIGHT#<kind>#<shard>`` and ``gsi2sk = <due time>#<txn>`` in the sparse ``inflight``
index: the recovery jobs read what is due, oldest first, and move the due time forward or remove
it. Four shards per kind keep any one index partition cool.

Amounts are integers (minor units); pynamodb's ``NumberAttribute`` round-trips them exactly.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, LocalSecondaryIndex
from pynamodb.models import Model

from payments.core.clock import sortable
from payments.platform.settings import settings
from payments.store.errors import OrderNotAttached

WALLET_SK = "WALLET"
TXN_PREFIX = "TXN#"
ENTRY_PREFIX = "ENTRY#"
METHOD_PREFIX = "METHOD#"
INFLIGHT_SHARDS = 4


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def txn_sk(txn_id: str) -> str:
    return f"{TXN_PREFIX}{txn_id}"


def entry_sk(txn_id: str, kind: str) -> str:
    return f"{ENTRY_PREFIX}{txn_id}#{kind}"


def order_key(gateway: str, order_id: str) -> str:
    return f"ORDER#{gateway}#{order_id}"


def reference_key(txn_id: str) -> str:
    return f"REF#{txn_id}"


def inflight_partition(kind: str, txn_id: str) -> str:
    return f"INFLIGHT#{kind}#{zlib.crc32(txn_id.encode()) % INFLIGHT_SHARDS}"


def inflight_attributes(kind: str, txn_id: str, due: datetime) -> tuple[tuple[str, str], ...]:
    """The attributes that put a record on its recovery job's list, due at ``due``."""
    return (("gsi2pk", inflight_partition(kind, txn_id)), ("gsi2sk", f"{sortable(due)}#{txn_id}"))


class _LedgerTable(Model):
    """Common keys and table settings; the concrete item types below share one table."""

    class Meta:
        abstract = True
        table_name = settings.ledger_table_name
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class WalletItem(_LedgerTable):
    class Meta(_LedgerTable.Meta):
        abstract = False

    user_id = UnicodeAttribute()
    currency = UnicodeAttribute(null=True)  # set by the first movement; every movement must match
    balance = NumberAttribute(default=0)
    locked = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    kyc_level = UnicodeAttribute(null=True)  # set by an admin; wins over the token's claim
    daily_used = NumberAttribute(default=0)
    daily_period = UnicodeAttribute(null=True)
    monthly_used = NumberAttribute(default=0)
    monthly_period = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class InFlightIndex(GlobalSecondaryIndex["TransactionItem"]):
    """Sparse: only records a recovery job must look at carry ``gsi2pk``; settling removes it.
    ``created_at`` is projected so the overdue ones can be counted from the index alone."""

    class Meta:
        index_name = "inflight"
        projection = IncludeProjection(["created_at"])

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class TimeIndex(LocalSecondaryIndex["TransactionItem"]):
    """A user's transactions by creation time (``ts``): the history, newest first. Sparse: only
    transactions carry ``ts``, so wallets, entries and methods are not in it."""

    class Meta:
        index_name = "by-time"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    ts = UnicodeAttribute(range_key=True)


def current_wallet(user_id: str) -> WalletItem:
    """The wallet as stored now (strongly consistent); an all-zero one if the user has none."""
    try:
        return WalletItem.get(user_pk(user_id), WALLET_SK, consistent_read=True)
    except WalletItem.DoesNotExist:
        return WalletItem(user_pk(user_id), WALLET_SK, user_id=user_id)


def transaction(user_id: str, txn_id: str) -> TransactionItem | None:
    """One of a user's transactions as stored now (strongly consistent), or None."""
    try:
        return TransactionItem.get(user_pk(user_id), txn_sk(txn_id), consistent_read=True)
    except TransactionItem.DoesNotExist:
        return None


def _through_pointer(key: str, sk: str) -> TransactionItem | None:
    try:
        pointer = PointerItem.get(key, sk, consistent_read=True)
    except PointerItem.DoesNotExist:
        return None
    try:
        return TransactionItem.get(user_pk(pointer.user_id), txn_sk(pointer.txn_id), consistent_read=True)
    except TransactionItem.DoesNotExist:
        return None


def find_by_reference(txn_id: str) -> TransactionItem | None:
    """Any transaction by our own id alone (webhooks, admins and jobs know the id, not the user)."""
    return _through_pointer(reference_key(txn_id), "REF")


def find_by_order(gateway: str, order_id: str) -> TransactionItem | None:
    """The deposit a gateway order belongs to."""
    return _through_pointer(order_key(gateway, order_id), "ORDER")


def attach_order(user_id: str, txn_id: str, gateway: str, order_id: str, now: datetime) -> None:
    """The gateway's order id on a PENDING deposit and the ``ORDER#`` pointer webhooks find it by,
    in one transaction. :class:`OrderNotAttached` when the deposit is no longer PENDING."""
    from pynamodb.connection import Connection
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.transactions import TransactWrite

    try:
        with TransactWrite(connection=Connection(region=TransactionItem.Meta.region)) as tx:
            tx.update(
                TransactionItem(user_pk(user_id), txn_sk(txn_id)),
                actions=[
                    TransactionItem.gateway.set(gateway),
                    TransactionItem.gateway_order_id.set(order_id),
                    TransactionItem.updated_at.set(now),
                ],
                condition=TransactionItem.status == "PENDING",
            )
            tx.save(
                PointerItem(order_key(gateway, order_id), "ORDER", user_id=user_id, txn_id=txn_id),
                condition=PointerItem.pk.does_not_exist() | (PointerItem.txn_id == txn_id),
            )
    except TransactWriteError as exc:
        if any(reason and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons):
            raise OrderNotAttached(txn_id) from exc
        raise


def due_for_recovery(kind: str, now: datetime, limit: int) -> Iterator[tuple[str, str]]:
    """Keys of ``kind`` records due by ``now``, oldest due first across all shards (merged, so
    no shard waits behind another however busy it is)."""
    upper = f"{sortable(now)}#~"
    shards = [
        TransactionItem.inflight.query(f"INFLIGHT#{kind}#{shard}", TransactionItem.gsi2sk <= upper, limit=limit)
        for shard in range(INFLIGHT_SHARDS)
    ]
    for key in heapq.merge(*shards, key=lambda item: item.gsi2sk):
        yield key.pk, key.sk


def count_in_flight_since(kind: str, created_before: datetime) -> int:
    """How many ``kind`` records, due or not, were created before ``created_before``."""
    return sum(
        TransactionItem.inflight.count(
            f"INFLIGHT#{kind}#{shard}", filter_condition=TransactionItem.created_at < created_before
        )
        for shard in range(INFLIGHT_SHARDS)
    )


def oldest_in_flight(kind: str) -> datetime | None:
    """When the oldest ``kind`` record still in flight was created (None when there is none):
    reads the kind's shards of the sparse index, which hold only what is in flight."""
    oldest = None
    for shard in range(INFLIGHT_SHARDS):
        for item in TransactionItem.inflight.query(f"INFLIGHT#{kind}#{shard}"):
            if item.created_at is not None and (oldest is None or item.created_at < oldest):
                oldest = item.created_at
    return oldest


class TransactionItem(_LedgerTable):
    class Meta(_LedgerTable.Meta):
        abstract = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.ts is None and self.created_at is not None and getattr(self, "txn_id", None):
            self.ts = f"{sortable(self.created_at)}#{self.txn_id}"

    txn_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    amount = NumberAttribute()
    fee = NumberAttribute(default=0)
    currency = UnicodeAttribute(default="INR")
    description = UnicodeAttribute(null=True)
    reference_id = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    gateway = UnicodeAttribute(null=True)
    gateway_order_id = UnicodeAttribute(null=True)
    gateway_payment_id = UnicodeAttribute(null=True)
    payment_method_id = UnicodeAttribute(null=True)
    method_type = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)  # INFLIGHT#<kind>#<shard> while a recovery job must look
    gsi2sk = UnicodeAttribute(null=True)  # <due time>#<txn>
    recovery_attempts = NumberAttribute(null=True)
    # Withdrawals: where the saga is, the token that resumes it, the gateway's payout id.
    stage = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    task_claim = UnicodeAttribute(null=True)  # the decision a resumer claimed the token with (JSON)
    claimed_at = UTCDateTimeAttribute(null=True)
    gateway_payout_id = UnicodeAttribute(null=True)
    payout_sent_at = UTCDateTimeAttribute(null=True)  # the last payout attempt (withdrawals)
    payout_attempts = NumberAttribute(null=True)
    # Refunds and chargebacks point at their deposit; a deposit counts what was refunded.
    parent_txn_id = UnicodeAttribute(null=True)
    refunded = NumberAttribute(null=True)
    gateway_refund_id = UnicodeAttribute(null=True)
    wallet_debited = BooleanAttribute(null=True)  # refunds: False for late money sent back unseen
    dispute_id = UnicodeAttribute(null=True)
    shortfall = NumberAttribute(null=True)
    # The KYC level in force when it was initiated, and the usage periods it charged, so a failure
    # gives back to the right periods and late money is checked against the right tier.
    kyc_level = UnicodeAttribute(null=True)
    limit_day = UnicodeAttribute(null=True)
    limit_month = UnicodeAttribute(null=True)
    ts = UnicodeAttribute(null=True)
    by_time = TimeIndex()
    inflight = InFlightIndex()


class LedgerEntryItem(_LedgerTable):
    """An immutable posting. ``balance == sum(balance_delta)`` and ``locked == sum(locked_delta)``
    over a user's entries is the ledger invariant."""

    class Meta(_LedgerTable.Meta):
        abstract = False

    user_id = UnicodeAttribute()
    txn_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    balance_delta = NumberAttribute()
    locked_delta = NumberAttribute()
    created_at = UTCDateTimeAttribute()


class PaymentMethodItem(_LedgerTable):
    """A stored payment method: the gateway token only, KMS envelope-encrypted; display details
    are masked before they are stored. Never a card number or a CVV."""

    class Meta(_LedgerTable.Meta):
        abstract = False

    method_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    type = UnicodeAttribute()
    gateway = UnicodeAttribute()
    token_envelope = UnicodeAttribute()  # JSON: KMS-encrypted data key, nonce, AES-GCM ciphertext
    last_four = UnicodeAttribute(null=True)
    brand = UnicodeAttribute(null=True)
    expiry_month = NumberAttribute(null=True)
    expiry_year = NumberAttribute(null=True)
    label = UnicodeAttribute(null=True)  # e.g. a UPI handle or bank name, masked
    payout_capable = BooleanAttribute(default=False)
    status = UnicodeAttribute(default="ACTIVE")
    created_at = UTCDateTimeAttribute()


class PointerItem(_LedgerTable):
    """Our id (``REF#<txn>``) or a gateway order (``ORDER#<gw>#<order>``) -> the transaction.
    Written in the same transaction as what it points to, never changed."""

    class Meta(_LedgerTable.Meta):
        abstract = False

    user_id = UnicodeAttribute()
    txn_id = UnicodeAttribute()
