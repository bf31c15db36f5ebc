"""The verifier (``make audit-verify``, and scheduled daily): walk every chain and report the
first broken link of each; check that every ledger entry has its audit record, with its amount.

A chain is checked link by link in ``seq`` order up to its head, read just before the walk (the
chainer moves records and head in one write, so everything up to the head is linked): no gap or
repeat, each record's ``audit_hash`` is the hash of its fields as stored now (a changed field
shows), each ``prev_hash`` is the ``chain_hash`` before it (a record reordered or inserted shows),
each ``chain_hash`` is the link of the two (a recomputed one shows), the head agrees with the last
record (a deleted tail shows), a linked record beyond the head is one the chainer did not link,
and every anchor ever written for the chain matches the record at its ``seq`` (a chain rewritten
whole, hashes and head included, shows; so does a forged anchor, which disagrees with the real
one). The chains walked are every chain with a head, every chain ever anchored and every user with
a wallet, in key order, a part per run when there are too many for one (a cursor in the ops table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payments.audit import anchors, records
from payments.core.clock import Deadline, sortable, utcnow
from payments.platform.settings import settings
from payments.store.audit_table import (
    ENTRY_RECORD_PREFIX,
    HEAD_SK,
    PENDING_SHARDS,
    AuditHeadItem,
    AuditRecordItem,
)
from payments.store.audit_table import current_head as _head
from payments.store.ledger_table import ENTRY_PREFIX, WALLET_SK, LedgerEntryItem, WalletItem

#: Money younger than this at the start of a run is left to the next run: a write committing
#: while the verifier reads its two sides is not a finding (writers' clocks may differ a little).
SETTLING = timedelta(minutes=5)


@dataclass
class Verification:
    """``broken`` maps a chain to its first broken link; ``missing`` maps a user id to the ledger
    entries without a matching audit record (or audit records of entries that do not exist).
    ``last_chain`` is where this run stopped when ``pass_complete`` is False."""

    started_at: str
    chains: int = 0
    records: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    unchained_overdue: int = 0
    pass_complete: bool = True
    last_chain: str | None = None


def _chains_to_walk(anchored: dict[str, dict[int, set[str]]]) -> list[str]:
    chains = set(anchored)
    chains |= {wallet.pk for wallet in WalletItem.scan(WalletItem.sk == WALLET_SK, attributes_to_get=["pk", "sk"])}
    chains |= {head.pk for head in AuditHeadItem.scan(AuditHeadItem.sk == HEAD_SK, attributes_to_get=["pk", "sk"])}
    return sorted(chains)


def walk(chain: str, anchored: dict[int, set[str]] | None = None) -> tuple[int, str | None]:
    """(records walked, the first broken link or None)."""
    anchored = anchored or {}
    head = _head(chain)
    head_seq = int(head.seq) if head is not None else None
    condition = AuditRecordItem.seq <= head_seq if head_seq is not None else None
    expected, prev = 1, records.GENESIS_HASH
    for record in AuditRecordItem.by_seq.query(chain, condition, consistent_read=True):
        seq = int(record.seq or 0)
        if seq != expected:
            return expected - 1, f"record {expected} is missing (found {seq} after {expected - 1})"
        if records.record_hash(records.fields_of(record)) != record.audit_hash:
            return seq, f"record {seq} ({record.sk}) was altered: its fields no longer hash to its audit_hash"
        if record.prev_hash != prev:
            return seq, f"record {seq} ({record.sk}) does not follow record {seq - 1}"
        if records.link(prev, seq, record.audit_hash) != record.chain_hash:
            return seq, f"record {seq} ({record.sk}) has a wrong chain_hash"
        hashes = anchored.get(seq, set())
        if len(hashes) > 1:
            return seq, f"record {seq} has {len(hashes)} anchors that disagree: an anchor was forged"
        if hashes and record.chain_hash not in hashes:
            return seq, f"record {seq} differs from its anchor: the chain was rewritten"
        prev = record.chain_hash or ""
        expected += 1
    last = expected - 1
    if head_seq is None or head_seq != last or (head is not None and head.chain_hash != prev):
        return last, f"the head says record {head_seq or 0} but the chain ends at record {last}"
    beyond = [seq for seq in anchored if seq > last]
    if beyond:
        return last, f"record {max(beyond)} was anchored but the chain ends at record {last}"
    extra = next(iter(AuditRecordItem.by_seq.query(chain, AuditRecordItem.seq > last, limit=1)), None)
    if extra is not None:
        moved = _head(chain)  # linked since the head was read, or put there by hand?
        if moved is None or int(moved.seq) < int(extra.seq or 0):
            return last, f"record {extra.seq} ({extra.sk}) lies beyond the head (record {last})"
    return last, None


def entries_without_records(user_chain: str, before: datetime | None = None) -> list[str]:
    """Ledger entries of a user without their audit record or whose record names another amount
    or operation, and audit records of entries that do not exist - among what was written before
    ``before`` (default: everything)."""
    cutoff = sortable(before) if before is not None else None
    entries = {
        item.sk.removeprefix(ENTRY_PREFIX): int(item.amount)
        for item in LedgerEntryItem.query(
            user_chain,
            LedgerEntryItem.sk.startswith(ENTRY_PREFIX),
            consistent_read=True,
            attributes_to_get=["sk", "amount", "created_at"],
        )
        if before is None or item.created_at is None or item.created_at < before
    }
    audited = {
        item.sk.removeprefix(ENTRY_RECORD_PREFIX): (int(item.amount or 0), item.operation)
        for item in AuditRecordItem.query(
            user_chain,
            AuditRecordItem.sk.startswith(ENTRY_RECORD_PREFIX),
            consistent_read=True,
            attributes_to_get=["sk", "amount", "operation", "timestamp"],
        )
        if cutoff is None or item.timestamp < cutoff
    }
    found = [f"entry {key} has no audit record" for key in sorted(entries.keys() - audited.keys())]
    found += [f"audit record of entry {key}, which does not exist" for key in sorted(audited.keys() - entries.keys())]
    for key in sorted(entries.keys() & audited.keys()):
        amount, operation = audited[key]
        if amount != entries[key] or key.rsplit("#", 1)[-1] != operation:
            found.append(f"entry {key} moves {entries[key]}, its audit record says {operation} {amount}")
    return found


def unchained_since(cutoff: str) -> int:
    """Records (and heads not anchored) waiting in the ``unchained`` index since before ``cutoff``."""
    return sum(
        AuditRecordItem.unchained.count(f"P#{shard}", AuditRecordItem.pending_at < cutoff)
        for shard in range(PENDING_SHARDS)
    )


def verify(deadline: Deadline | None = None, after: str | None = None, reserve_s: float = 20.0) -> Verification:
    """Walk the chains whose key sorts after ``after`` (all of them by default) until done or only
    ``reserve_s`` is left; ``last_chain`` says where to continue."""
    deadline = deadline or Deadline()
    started = utcnow()
    result = Verification(started_at=sortable(started))
    every = anchors.every()
    for chain in _chains_to_walk(every):
        if after is not None and chain <= after:
            continue
        if deadline.remaining() < reserve_s:
            result.pass_complete = False
            break
        result.chains += 1
        result.last_chain = chain
        walked, broken = walk(chain, every.get(chain))
        result.records += walked
        if broken:
            result.broken[chain] = broken
        if chain.startswith("USER#"):
            missing = entries_without_records(chain, started - SETTLING)
            if missing:
                result.missing[chain.removeprefix("USER#")] = missing
    cutoff = started - timedelta(minutes=settings.audit_chain_lag_minutes)
    result.unchained_overdue = unchained_since(sortable(cutoff))
    return result
