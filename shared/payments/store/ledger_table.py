"""DynamoDB items of the ledger table (single table, ``pk``/``sk`` keys), via pynamodb.

``pk = USER#<user_id>`` groups everything of one user so that a wallet, its transactions and its
ledger entries are read with one Query and written in one ``TransactWriteItems``:

=============== =========================== ==========================================
item            sk                          notes
=============== =========================== ==========================================
wallet          ``WALLET``                  balance/locked/available in minor units
transaction     ``TXN#<txn_id>``            lifecycle record shown in the history
ledger entry    ``ENTRY#<txn_id>#<kind>``   immutable posting; one per (transaction, kind)
=============== =========================== ==========================================

Amounts are integers (minor units); pynamodb's ``NumberAttribute`` round-trips them exactly.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from payments.platform.settings import settings

WALLET_SK = "WALLET"
TXN_PREFIX = "TXN#"
ENTRY_PREFIX = "ENTRY#"
METHOD_PREFIX = "METHOD#"
#: Sparse GSI partition holding deposits while they are PENDING (the sweeper's work list).
PENDING_DEPOSITS = "PENDING#DEPOSIT"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def txn_sk(txn_id: str) -> str:
    return f"{TXN_PREFIX}{txn_id}"


def entry_sk(txn_id: str, kind: str) -> str:
    return f"{ENTRY_PREFIX}{txn_id}#{kind}"


def order_key(gateway: str, order_id: str) -> str:
    return f"ORDER#{gateway}#{order_id}"


def reference_key(txn_id: str) -> str:
    """GSI key that finds a withdrawal, refund or chargeback by our own id (webhooks and admins
    know the id, not the user)."""
    return f"REF#{txn_id}"


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
    currency = UnicodeAttribute(default="INR")
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


class OrderIndex(GlobalSecondaryIndex["TransactionItem"]):
    """Gateway order id -> transaction: webhooks know the order, not our user."""

    class Meta:
        index_name = "by-order"
        projection = KeysOnlyProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)


class PendingIndex(GlobalSecondaryIndex["TransactionItem"]):
    """Sparse: only PENDING deposits carry ``gsi2pk``; completing one removes it."""

    class Meta:
        index_name = "pending"
        projection = KeysOnlyProjection()

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


def find_by_reference(txn_id: str) -> TransactionItem | None:
    """A withdrawal, refund or chargeback by our own id (index lookup, then a consistent read):
    webhooks and admins know the id, not the user."""
    for key in TransactionItem.by_order.query(reference_key(txn_id), limit=1):
        return TransactionItem.get(key.pk, key.sk, consistent_read=True)
    return None


def find_by_order(gateway: str, order_id: str) -> TransactionItem | None:
    """The deposit a gateway order belongs to (index lookup, then a consistent read)."""
    for key in TransactionItem.by_order.query(order_key(gateway, order_id), limit=1):
        return TransactionItem.get(key.pk, key.sk, consistent_read=True)
    return None


class TransactionItem(_LedgerTable):
    class Meta(_LedgerTable.Meta):
        abstract = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.ts is None and self.created_at is not None and getattr(self, "txn_id", None):
            self.ts = f"{self.created_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{self.txn_id}"

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
    gsi1pk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    # Withdrawals: where the saga is, the token that resumes it, the gateway's payout id.
    stage = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    gateway_payout_id = UnicodeAttribute(null=True)
    # Refunds and chargebacks point at their deposit; a deposit counts what was refunded.
    parent_txn_id = UnicodeAttribute(null=True)
    refunded = NumberAttribute(null=True)
    gateway_refund_id = UnicodeAttribute(null=True)
    dispute_id = UnicodeAttribute(null=True)
    shortfall = NumberAttribute(null=True)
    # The KYC usage periods this transaction charged, so a failure gives back the right ones.
    limit_day = UnicodeAttribute(null=True)
    limit_month = UnicodeAttribute(null=True)
    ts = UnicodeAttribute(null=True)
    by_order = OrderIndex()
    by_time = TimeIndex()
    pending = PendingIndex()


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
