"""Audit records: what one is, its canonical form and hash, and how it is written.

A record is built from named fields only (the spec's audit-log example plus the actor, the
resulting status, the ledger operation and a few named ``details``), never from a request body or
a gateway answer, so a card number, a token or a secret has no way in.

Completeness: the audit record of a money movement is a ``Put`` in the same ``TransactWriteItems``
as the movement (:mod:`payments.ledger.writer`): both are committed or neither is. Events that
move no money (a method added, a KYC level changed, a refusal, a fraud decision, a failed
authentication) are written on their own with :func:`write`.

Integrity: ``audit_hash`` is the SHA-256 of the canonical form (sorted-key compact JSON of the
fields in :data:`HASHED_FIELDS`); the chainer links records with
``chain_hash = sha256(prev_hash | seq | audit_hash)`` (:func:`link`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from payments.core.acting import current_actor
from payments.core.clock import sortable, utcnow
from payments.store.audit_table import (
    EVENT_RECORD_PREFIX,
    AuditRecordItem,
    entry_record_sk,
    pending_shard,
)

#: The fields a record's hash covers; its keys (chain and record id) included, so a record moved
#: to another chain or position is a broken record.
HASHED_FIELDS = (
    "pk",
    "sk",
    "timestamp",
    "event_type",
    "actor",
    "user_id",
    "transaction_id",
    "amount",
    "currency",
    "gateway",
    "ip_address",
    "status",
    "operation",
    "details",
)
GENESIS_HASH = "0" * 64


def user_chain(user_id: str) -> str:
    return f"USER#{user_id}"


def canonical(fields: Mapping[str, Any]) -> bytes:
    values = {name: fields.get(name) for name in HASHED_FIELDS}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def record_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def link(prev_hash: str, seq: int, audit_hash: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{seq}|{audit_hash}".encode()).hexdigest()


def fields_of(item: AuditRecordItem) -> dict[str, Any]:
    """The hashed fields of a stored record, as they were hashed."""
    return {name: _plain(getattr(item, name)) for name in HASHED_FIELDS}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _details(details: Mapping[str, Any] | None) -> str | None:
    if not details:
        return None
    return json.dumps({key: str(value) for key, value in details.items() if value is not None}, sort_keys=True)


def build(
    event_type: str,
    *,
    chain: str,
    record_id: str | None = None,
    user_id: str | None = None,
    transaction_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    gateway: str | None = None,
    status: str | None = None,
    operation: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRecordItem:
    """An unchained record (in the ``unchained`` index) by the actor of this invocation."""
    moment = at or utcnow()
    actor = current_actor()
    sk = record_id or f"{EVENT_RECORD_PREFIX}{sortable(moment)}#{secrets.token_hex(6)}"
    fields: dict[str, Any] = {
        "pk": chain,
        "sk": sk,
        "timestamp": sortable(moment),
        "event_type": event_type,
        "actor": actor.who,
        "user_id": user_id,
        "transaction_id": transaction_id,
        "amount": amount,
        "currency": currency,
        "gateway": gateway,
        "ip_address": actor.ip_address,
        "status": status,
        "operation": operation,
        "details": _details(details),
    }
    return AuditRecordItem(
        **fields,
        audit_hash=record_hash(fields),
        pending=pending_shard(chain),
        pending_at=f"{sortable(moment)}#{sk}",
    )


def for_entry(
    event_type: str,
    *,
    user_id: str,
    txn_id: str,
    kind: str,
    amount: int,
    currency: str | None,
    gateway: str | None,
    status: str | None,
    details: Mapping[str, Any] | None,
    at: datetime,
) -> AuditRecordItem:
    """The record of ledger entry ``(txn_id, kind)``, keyed by it (the verifier finds a missing one)."""
    return build(
        event_type,
        chain=user_chain(user_id),
        record_id=entry_record_sk(txn_id, kind),
        user_id=user_id,
        transaction_id=txn_id,
        amount=amount,
        currency=currency,
        gateway=gateway,
        status=status,
        operation=kind,
        details=details,
        at=at,
    )


@cache
def _connection() -> Connection:
    """One connection (one botocore client) per container, not one per audited change."""
    return Connection(region=AuditRecordItem.Meta.region, host=AuditRecordItem.Meta.host)


def commit_with(record: AuditRecordItem, add: Callable[[TransactWrite], None]) -> None:
    """One ``TransactWriteItems``: the change ``add`` puts in and its audit record, together or
    not at all (a method stored, a KYC level set). Raises pynamodb's ``TransactWriteError``."""
    with TransactWrite(connection=_connection()) as tx:
        add(tx)
        tx.save(record, condition=AuditRecordItem.pk.does_not_exist())


def cancelled_by_condition(exc: TransactWriteError, position: int = 0) -> bool:
    """Whether the item added ``position``-th (puts first, then updates) failed its condition."""
    reasons = exc.cancellation_reasons or []
    return (
        len(reasons) > position and reasons[position] is not None and reasons[position].code == "ConditionalCheckFailed"
    )


def write(record: AuditRecordItem) -> None:
    """Store an event that moves no money (one ``PutItem``, only if new)."""
    record.save(condition=AuditRecordItem.pk.does_not_exist())


def record_event(event_type: str, user_id: str, **fields: Any) -> None:
    """Audit an event of ``user_id``'s chain that moves no money."""
    write(build(event_type, chain=user_chain(user_id), user_id=user_id, **fields))
