"""A failed TransactWriteItems undoes its writes by restoring the items it names, not whole tables.

moto (5.2) backs up every table a transaction names by deep-copying it, once per operation, before
it starts, and swaps the copies back in when the transaction is cancelled. The cost grows with the
table: on a table that lives as long as a test session or a long ``make run`` (tens of thousands of
items), a deposit's four-item transaction copied the ledger table four times - seconds per money
movement, enough for a function to run out of its Lambda deadline, and a suite that slowed down
quadratically. What moto's backup restores is all a transaction can have changed: the items it
names. Here only those are saved (each one deep-copied, since moto updates items in place) and put
back, with the table's stream records of the cancelled writes. Conditions, cancellation reasons and
the all-or-nothing outcome are still moto's own code; ``tests/unit/test_local_moto.py`` checks them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

_copying_tables = threading.local()


class _CopyKeepingTables:
    """moto's ``copy`` module inside its DynamoDB backend: inside a transaction, a table "copied"
    for backup is the table itself (the items are saved by :func:`_save` instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_copying_tables, "skip", False) and isinstance(value, Table):
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


def install() -> None:
    """Idempotent: patch moto's DynamoDB backend in this process."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend.transact_write_items, "_restores_items", False):
        return
    models.copy = _CopyKeepingTables()  # type: ignore[assignment]
    original: Callable[[Any, list[dict[str, Any]]], None] = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved, streams = _save(self, transact_items)
        _copying_tables.skip = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, saved, streams)
            raise
        finally:
            _copying_tables.skip = False

    transact_write_items._restores_items = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
