"""The money invariants, checked over the whole ledger table after a test."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from payments.reconciliation import check_partition

_deserialize = TypeDeserializer().deserialize


def ledger_problems(dynamodb_client: Any, table_name: str) -> dict[str, list[str]]:
    """Every user partition whose wallet disagrees with its entries (empty when all is well)."""
    partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in dynamodb_client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for raw in page["Items"]:
            item = {key: _deserialize(value) for key, value in raw.items()}
            if item["pk"].startswith("USER#"):
                partitions[item["pk"]].append(item)
    problems = {pk: check_partition(items) for pk, items in partitions.items()}
    return {pk: found for pk, found in problems.items() if found}


def assert_ledger_invariants(dynamodb_client: Any, table_name: str) -> None:
    problems = ledger_problems(dynamodb_client, table_name)
    assert not problems, f"ledger invariants broken: {problems}"
