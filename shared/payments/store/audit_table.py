"""DynamoDB items of the audit table: the tamper-evident trail of every payment activity.

=============== ===================================== ==========================================
item            key (pk / sk)                         notes
=============== ===================================== ==========================================
record          ``<chain>`` / ``E#<txn>#<kind>``       the audit record of a ledger entry, written
                                                      in the same transaction as the entry
record          ``<chain>`` / ``R#<time>#<random>``   any other audited event
chain head      ``<chain>`` / ``HEAD``                last chained ``seq`` and its ``chain_hash``
=============== ===================================== ==========================================

A chain is ``USER#<user id>`` (everything that happened to one user's money and data) or
``AUTH#<day>#<shard>`` (authentication failures, which have no trusted user). Records are written
unchained, with ``pending`` set so they sit in the sparse ``unchained`` index; the chainer job gives
each its ``seq``, ``prev_hash`` and ``chain_hash`` and removes ``pending`` (then it is in the
``by-seq`` index, which the verifier walks). A head that moved is in the ``unchained`` index too
until its anchor is written. Request-time writers never touch a chain head.
"""

from __future__ import annotations

import zlib

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from payments.platform.settings import settings

HEAD_SK = "HEAD"
ENTRY_RECORD_PREFIX = "E#"
EVENT_RECORD_PREFIX = "R#"
PENDING_SHARDS = 8


def entry_record_sk(txn_id: str, kind: str) -> str:
    """The audit record of ledger entry ``(txn_id, kind)``: one key, so a missing one is found."""
    return f"{ENTRY_RECORD_PREFIX}{txn_id}#{kind}"


def pending_shard(chain: str) -> str:
    """A chain's records share one shard of the ``unchained`` index, so the chainer reads a whole
    chain's backlog from one partition and no partition takes every write."""
    return f"P#{zlib.crc32(chain.encode()) % PENDING_SHARDS}"


class _AuditTable(Model):
    class Meta:
        abstract = True
        table_name = settings.audit_table_name
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class UnchainedIndex(GlobalSecondaryIndex["AuditRecordItem"]):
    """Sparse: records not chained yet, per shard, oldest first."""

    class Meta:
        index_name = "unchained"
        projection = KeysOnlyProjection()

    pending = UnicodeAttribute(hash_key=True)
    pending_at = UnicodeAttribute(range_key=True)


class SeqIndex(LocalSecondaryIndex["AuditRecordItem"]):
    """Sparse: a chain's chained records in chain order (the verifier's walk)."""

    class Meta:
        index_name = "by-seq"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)


class AuditRecordItem(_AuditTable):
    """One audited event, with the fields of the spec's audit-log example and the actor. Never a
    card number, a token or a secret: records are built from named fields only
    (:mod:`payments.audit.records`)."""

    class Meta(_AuditTable.Meta):
        abstract = False

    timestamp = UnicodeAttribute()
    event_type = UnicodeAttribute()
    actor = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    amount = NumberAttribute(null=True)  # minor units
    currency = UnicodeAttribute(null=True)
    gateway = UnicodeAttribute(null=True)
    ip_address = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    operation = UnicodeAttribute(null=True)
    details = UnicodeAttribute(null=True)  # canonical JSON of a few named values
    audit_hash = UnicodeAttribute()  # sha256 of the record's canonical form
    # Set by the chainer:
    seq = NumberAttribute(null=True)
    prev_hash = UnicodeAttribute(null=True)
    chain_hash = UnicodeAttribute(null=True)
    # Removed by the chainer:
    pending = UnicodeAttribute(null=True)
    pending_at = UnicodeAttribute(null=True)

    unchained = UnchainedIndex()
    by_seq = SeqIndex()


def current_head(chain: str) -> AuditHeadItem | None:
    """A chain's head as stored now (strongly consistent); None before its first link."""
    try:
        return AuditHeadItem.get(chain, HEAD_SK, consistent_read=True)
    except AuditHeadItem.DoesNotExist:
        return None


class AuditHeadItem(_AuditTable):
    """The last link of a chain; only the chainer writes it, under a condition on ``seq``."""

    class Meta(_AuditTable.Meta):
        abstract = False

    # Not stored as ``seq``: the head must stay out of the ``by-seq`` index of the records.
    seq = NumberAttribute(default=0, attr_name="last_seq")
    chain_hash = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    # Set when the head moves, removed once it is anchored: a head in the ``unchained`` index is
    # one the chainer must still anchor (a run that died between linking and anchoring).
    pending = UnicodeAttribute(null=True)
    pending_at = UnicodeAttribute(null=True)
