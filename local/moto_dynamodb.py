"""moto's DynamoDB at a cost that does not grow with the table: same answers, less work.

The local stack and the tests keep one set of tables for a whole session (tens of thousands of
items by the end of ``make test``, or of a long ``make run``). Two moto (5.2) costs grew with them:

- **TransactWriteItems** backs up every table it names by deep-copying it, once per operation,
  before it starts, and swaps the copies back in when the transaction is cancelled. A deposit's
  four-item transaction copied the ledger table four times: seconds per money movement, enough for
  a function to run out of its Lambda deadline in CI. What the backup restores is all a transaction
  can have changed - the items it names - so only those are saved (each deep-copied, since moto
  updates items in place) and put back, with the stream records of the cancelled writes.
- **Query** lists, and sorts, every item of the table (``Table.all_items``) and then keeps those
  of the asked partition or index key. Here a query is handed only the items its key condition
  can match - the partition, or the items whose index key attributes equal the condition's - in
  the same order, so every later step (range conditions, filters, paging, limits) is moto's own.

- **Streams** keep every record for ever (DynamoDB keeps them 24 hours): the ledger stream of a
  whole test session would hold a copy of every write, old and new image. A shard keeps its
  latest :data:`STREAM_KEEP` records; older ones are trimmed as DynamoDB trims them, sequence
  numbers going on unchanged, and reading a trimmed one fails like AWS's
  ``TrimmedDataAccessException`` instead of reading another record.

Conditions, cancellation reasons, the all-or-nothing outcome and query results are still computed
by moto's code; ``tests/unit/test_local_moto.py`` checks them against unpatched expectations.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

_state = threading.local()
#: Records a stream shard keeps (trimmed to this many when it holds a quarter more).
STREAM_KEEP = 20_000


class _CopyKeepingTables:
    """moto's ``copy`` module inside its DynamoDB backend: inside a transaction, a table "copied"
    for backup is the table itself (the items are saved by :func:`_save` instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_state, "in_transaction", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


Saved = list[tuple[Any, Any, Any, Any]]


def _save(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[Saved, dict[str, int]]:
    """A deep copy of every item the transaction names (None where there is none yet), and the
    length of each named table's stream."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: Saved = []
    streams: dict[str, int] = {}
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            if table.stream_shard is not None:
                streams.setdefault(table.name, len(table.stream_shard.items))
            try:
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                current = table.get_item(hash_value, range_value)
            except Exception:  # noqa: BLE001, S112 - moto refuses such an operation before writing it
                continue
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved, streams


def _restore(backend: Any, saved: Saved, streams: dict[str, int]) -> None:
    for table, hash_value, range_value, item in reversed(saved):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        elif item is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item
    for name, length in streams.items():
        shard = backend.tables[name].stream_shard
        if shard is not None:
            del shard.items[length:]


def _install_transactions() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    models.copy = _CopyKeepingTables()  # type: ignore[assignment]
    original: Callable[[Any, list[dict[str, Any]]], None] = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved, streams = _save(self, transact_items)
        _state.in_transaction = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, saved, streams)
            raise
        finally:
            _state.in_transaction = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _candidates(table: Any, everything: Callable[[Any], list[Any]]) -> list[Any]:
    """What ``all_items`` answers inside a query: the items its key condition can match, in
    ``all_items`` order (by table key)."""
    query = _state.query
    if query["index_name"] is None:
        partition = table.items.get(query["hash_key"]) if query["hash_key"] is not None else None
        if partition is None:
            return []
        items = list(partition.values()) if table.range_key_attr else [partition]
    else:
        conditions = query["hash_key_conditions"]
        if not conditions:
            return everything(table)
        items = [
            item
            for hash_set in table.items.values()
            for item in (hash_set.values() if table.range_key_attr else (hash_set,))
            if all(item.attrs.get(name) and item.attrs.get(name) == value for name, value in conditions)
        ]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _install_queries() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query
    signature = inspect.signature(query)

    def candidate_items(self: Table) -> list[Any]:
        if getattr(_state, "query", None) is None or _state.query["table"] is not self:
            return all_items(self)
        return _candidates(self, all_items)

    def keyed_query(self: Table, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        _state.query = {
            "table": self,
            "hash_key": arguments.get("hash_key"),
            "index_name": arguments.get("index_name"),
            "hash_key_conditions": arguments.get("hash_key_conditions"),
        }
        try:
            return query(self, *args, **kwargs)
        finally:
            _state.query = None

    Table.all_items = candidate_items  # type: ignore[method-assign]
    Table.query = keyed_query  # type: ignore[method-assign]


def _install_stream_retention() -> None:
    from moto.dynamodb.models.table import StreamShard

    original_add, original_get = StreamShard.add, StreamShard.get

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        # Never inside a transaction: a cancelled one truncates the stream to its length before.
        if len(self.items) > STREAM_KEEP * 5 // 4 and not getattr(_state, "in_transaction", False):
            trimmed = len(self.items) - STREAM_KEEP
            del self.items[:trimmed]
            self.starting_sequence_number += trimmed

    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        if start < self.starting_sequence_number:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("TrimmedDataAccessException", f"record {start} was trimmed from the stream")
        return original_get(self, start, quantity)

    StreamShard.add, StreamShard.get = add, get  # type: ignore[method-assign]


def install() -> None:
    """Idempotent: patch moto's DynamoDB backend in this process."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_local_speedups", False):
        return
    _install_transactions()
    _install_queries()
    _install_stream_retention()
    DynamoDBBackend._local_speedups = True  # type: ignore[attr-defined]
