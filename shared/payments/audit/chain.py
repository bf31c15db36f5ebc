"""The chainer (scheduled every 5 minutes): link the records written since its last run into
their chains, then anchor the heads that moved (a head stays on the chainer's list until its
anchor is written, so a run that dies between the two leaves it to the next run).

Request-time writers never read or write a chain head, so concurrent payments of one user never
contend on it; the chain order is the order the chainer links records in (each record keeps its
own timestamp). One chain's batch is one ``TransactWriteItems``: every record gets ``seq``,
``prev_hash`` and ``chain_hash`` under ``attribute_not_exists(seq)``, and the head moves under a
condition on the ``seq`` it was read at - two chainers running at once (a run overlapping the
next) cannot give two records one ``seq``; the loser reads the head again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from payments.audit import anchors, records
from payments.core.clock import Deadline, sortable, utcnow
from payments.platform.observability import logger
from payments.store.audit_table import (
    HEAD_SK,
    PENDING_SHARDS,
    AuditHeadItem,
    AuditRecordItem,
    current_head,
    pending_shard,
)

#: Records linked per transaction: 2 items short of DynamoDB's 100, with room for the head.
_BATCH = 50
_ATTEMPTS = 4


@dataclass
class ChainRun:
    linked: int = 0
    chains: int = 0
    anchored: int = 0
    conflicts: int = 0
    complete: bool = True


def _pending(shard: int) -> tuple[dict[str, list[str]], set[str]]:
    """One shard of the ``unchained`` index: the records waiting, per chain, oldest first; and the
    chains whose head moved but was not anchored yet."""
    waiting: dict[str, list[str]] = defaultdict(list)
    unanchored: set[str] = set()
    for key in AuditRecordItem.unchained.query(f"P#{shard}", scan_index_forward=True):
        if key.sk == HEAD_SK:
            unanchored.add(key.pk)
        else:
            waiting[key.pk].append(key.sk)
    return waiting, unanchored


def _head(chain: str) -> tuple[int, str]:
    head = current_head(chain)
    return (int(head.seq), head.chain_hash) if head is not None else (0, records.GENESIS_HASH)


def _unlinked(chain: str, sks: list[str]) -> list[AuditRecordItem]:
    """The records themselves (the index holds keys only), still without a ``seq``, in order."""
    found = {item.sk: item for item in AuditRecordItem.batch_get([(chain, sk) for sk in sks], consistent_read=True)}
    return [found[sk] for sk in sks if sk in found and found[sk].seq is None]


def _link(connection: Connection, chain: str, batch: list[AuditRecordItem]) -> bool:
    """Link one batch after the head as it is now; False when another chainer moved it first.
    The head moves into the ``unchained`` index in the same write: it waits there for its anchor."""
    seq, prev = _head(chain)
    start = seq
    now = sortable(utcnow())
    with_hashes = []
    for record in batch:
        seq += 1
        chain_hash = records.link(prev, seq, record.audit_hash)
        with_hashes.append((record, seq, prev, chain_hash))
        prev = chain_hash
    try:
        with TransactWrite(connection=connection) as tx:
            for record, number, before, chain_hash in with_hashes:
                tx.update(
                    AuditRecordItem(chain, record.sk),
                    actions=[
                        AuditRecordItem.seq.set(number),
                        AuditRecordItem.prev_hash.set(before),
                        AuditRecordItem.chain_hash.set(chain_hash),
                        AuditRecordItem.pending.remove(),
                        AuditRecordItem.pending_at.remove(),
                    ],
                    condition=AuditRecordItem.seq.does_not_exist() & AuditRecordItem.pk.exists(),
                )
            head_condition = AuditHeadItem.pk.does_not_exist() if start == 0 else AuditHeadItem.seq == start
            tx.update(
                AuditHeadItem(chain, HEAD_SK),
                actions=[
                    AuditHeadItem.seq.set(seq),
                    AuditHeadItem.chain_hash.set(prev),
                    AuditHeadItem.updated_at.set(now),
                    AuditHeadItem.pending.set(pending_shard(chain)),
                    AuditHeadItem.pending_at.set(f"{now}#{HEAD_SK}"),
                ],
                condition=head_condition,
            )
    except TransactWriteError as exc:
        reasons = {reason.code for reason in exc.cancellation_reasons if reason}
        if reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
            return False
        raise
    return True


def _chain(
    connection: Connection, chain: str, sks: list[str], run: ChainRun, deadline: Deadline, reserve_s: float
) -> bool:
    """Link a chain's backlog, a batch at a time, while time is left; whether it moved."""
    moved = False
    for start in range(0, len(sks), _BATCH):
        if deadline.remaining() < reserve_s:
            run.complete = False
            return moved
        for _ in range(_ATTEMPTS):
            batch = _unlinked(chain, sks[start : start + _BATCH])
            if not batch:
                break
            if _link(connection, chain, batch):
                run.linked += len(batch)
                moved = True
                break
            run.conflicts += 1
    return moved


def _anchor(chains: set[str]) -> int:
    """Anchor each chain's head as it is now, then take the head off the index, unless it moved
    meanwhile (then it waits for the next anchor)."""
    heads = []
    for chain in sorted(chains):
        seq, chain_hash = _head(chain)
        if seq:
            heads.append(anchors.Anchor(chain, seq, chain_hash))
    written = anchors.write(heads)
    for head in heads:
        try:
            AuditHeadItem(head.chain, HEAD_SK).update(
                actions=[AuditHeadItem.pending.remove(), AuditHeadItem.pending_at.remove()],
                condition=AuditHeadItem.seq == head.seq,
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    return written


def chain_pending(deadline: Deadline | None = None, reserve_s: float = 20.0) -> ChainRun:
    """Link every waiting record, shard by shard and batch by batch, until done or only
    ``reserve_s`` is left; then anchor every head that moved and is not anchored yet - in this run
    or in one that died before its anchors were written. What is left waits for the next run (the
    verifier reports records or heads waiting longer than ``AUDIT_CHAIN_LAG_MINUTES``)."""
    deadline = deadline or Deadline()
    connection = Connection(region=AuditRecordItem.Meta.region, host=AuditRecordItem.Meta.host)
    run = ChainRun()
    to_anchor: set[str] = set()
    for shard in range(PENDING_SHARDS):
        waiting, unanchored = _pending(shard)
        to_anchor |= unanchored
        for chain, sks in waiting.items():
            if deadline.remaining() < reserve_s:
                run.complete = False
                break
            if _chain(connection, chain, sks, run, deadline, reserve_s):
                run.chains += 1
                to_anchor.add(chain)
    run.anchored = _anchor(to_anchor)
    logger.info(
        "audit records chained",
        extra={"linked": run.linked, "chains": run.chains, "anchored": run.anchored, "conflicts": run.conflicts},
    )
    return run
