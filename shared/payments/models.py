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

import os

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

WALLET_SK = "WALLET"
TXN_PREFIX = "TXN#"
ENTRY_PREFIX = "ENTRY#"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def txn_sk(txn_id: str) -> str:
    return f"{TXN_PREFIX}{txn_id}"


def entry_sk(txn_id: str, kind: str) -> str:
    return f"{ENTRY_PREFIX}{txn_id}#{kind}"


class _LedgerTable(Model):
    """Common keys and table settings; the concrete item types below share one table."""

    class Meta:
        abstract = True
        table_name = os.environ.get("LEDGER_TABLE_NAME", "payments-ledger")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

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
    daily_used = NumberAttribute(default=0)
    daily_period = UnicodeAttribute(null=True)
    monthly_used = NumberAttribute(default=0)
    monthly_period = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class TransactionItem(_LedgerTable):
    class Meta(_LedgerTable.Meta):
        abstract = False

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
