"""The local stack's DynamoDB (moto, with the speedups of ``local/moto_dynamodb.py``) keeps
DynamoDB's answers: a transaction's all-or-nothing outcome and cancellation reasons (without ever
copying a whole table), and queries of a partition or an index in key order, paged."""

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.stack import configure_moto

# Unique names: under xdist this module may run inside the suite's session-wide moto.
TABLE, FLAT = f"ledger-{uuid.uuid4().hex[:8]}", f"flat-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    configure_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "status", "ts")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_status",
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "ts", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.create_table(
            TableName=FLAT,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        try:
            yield client
        finally:
            client.delete_table(TableName=TABLE)
            client.delete_table(TableName=FLAT)


def _key(sk: str, pk: str = "USER#1") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _items(client: Any) -> dict[str, dict[str, Any]]:
    return {item["sk"]["S"]: item for item in client.scan(TableName=TABLE)["Items"]}


def _backend_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].tables[name]


def _seed(client: Any) -> None:
    client.put_item(TableName=TABLE, Item={**_key("WALLET"), "balance": {"N": "100"}, "version": {"N": "1"}})
    client.put_item(TableName=TABLE, Item={**_key("TXN#old"), "status": {"S": "PENDING"}})
    client.put_item(TableName=TABLE, Item={**_key("BYSTANDER", "USER#2"), "n": {"N": "7"}})
    client.put_item(TableName=FLAT, Item={"pk": {"S": "HEAD"}, "seq": {"N": "3"}})


def _writes(version_expected: str) -> list[dict[str, Any]]:
    """Update a wallet, insert a new transaction, delete an old one, move a flat-table head: the
    shape of a money movement; the last operation's condition decides the outcome."""
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": _key("WALLET"),
                "UpdateExpression": "SET balance = balance + :a, version = version + :one",
                "ExpressionAttributeValues": {":a": {"N": "50"}, ":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": {**_key("TXN#new"), "status": {"S": "COMPLETED"}}}},
        {"Delete": {"TableName": TABLE, "Key": _key("TXN#old")}},
        {
            "Update": {
                "TableName": FLAT,
                "Key": {"pk": {"S": "HEAD"}},
                "UpdateExpression": "SET seq = seq + :one",
                "ConditionExpression": "seq = :expected",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": version_expected}},
            }
        },
    ]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    _seed(dynamodb)
    before = _items(dynamodb)
    stream_before = len(_backend_table(TABLE).stream_shard.items)
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=_writes(version_expected="99"))
    error = refused.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == [
        "None",
        "None",
        "None",
        "ConditionalCheckFailed",
    ]
    assert _items(dynamodb) == before
    assert dynamodb.get_item(TableName=FLAT, Key={"pk": {"S": "HEAD"}})["Item"]["seq"] == {"N": "3"}
    assert len(_backend_table(TABLE).stream_shard.items) == stream_before


def test_a_committed_transaction_applies_every_write(dynamodb: Any) -> None:
    _seed(dynamodb)
    dynamodb.transact_write_items(TransactItems=_writes(version_expected="3"))
    items = _items(dynamodb)
    assert (items["WALLET"]["balance"], items["WALLET"]["version"]) == ({"N": "150"}, {"N": "2"})
    assert items["TXN#new"]["status"] == {"S": "COMPLETED"}
    assert "TXN#old" not in items
    assert items["BYSTANDER"]["n"] == {"N": "7"}
    assert dynamodb.get_item(TableName=FLAT, Key={"pk": {"S": "HEAD"}})["Item"]["seq"] == {"N": "4"}


def test_two_operations_on_one_item_are_refused_and_undone(dynamodb: Any) -> None:
    _seed(dynamodb)
    before = _items(dynamodb)
    twice = [
        {"Put": {"TableName": TABLE, "Item": {**_key("WALLET"), "balance": {"N": "0"}}}},
        {"Delete": {"TableName": TABLE, "Key": _key("WALLET")}},
    ]
    with pytest.raises(ClientError, match="multiple operations on one item"):
        dynamodb.transact_write_items(TransactItems=twice)
    assert _items(dynamodb) == before


def test_no_table_is_copied_for_a_transaction(dynamodb: Any) -> None:
    """moto's own backup deep-copies each named table (its cost grows with the table) and swaps the
    copy in on cancellation; the table object staying the same shows no copy was made."""
    _seed(dynamodb)
    table = _backend_table(TABLE)
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=_writes(version_expected="99"))
    dynamodb.transact_write_items(TransactItems=_writes(version_expected="3"))
    assert _backend_table(TABLE) is table


def _page_through(client: Any, **query: Any) -> list[str]:
    """Every page (two items at most; a full last page may be followed by an empty one, as in
    DynamoDB), joined."""
    keys: list[str] = []
    start: dict[str, Any] = {}
    while True:
        answer = client.query(TableName=TABLE, Limit=2, **query, **start)
        assert len(answer["Items"]) <= 2
        keys += [item["sk"]["S"] for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return keys
        start = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}


@pytest.fixture
def history(dynamodb: Any) -> Any:
    """Two users' transactions, written out of key order; one has no status (not in the index)."""
    rows = [
        ("USER#1", "TXN#3", "PENDING", "2026-01-03"),
        ("USER#2", "TXN#9", "PENDING", "2026-01-02"),
        ("USER#1", "TXN#1", "COMPLETED", "2026-01-01"),
        ("USER#1", "TXN#4", "PENDING", "2026-01-05"),
        ("USER#1", "TXN#2", None, "2026-01-04"),
        ("USER#1", "TXN#5", "PENDING", "2026-01-01"),
    ]
    for pk, sk, status, ts in rows:
        item = {**_key(sk, pk), "ts": {"S": ts}} | ({"status": {"S": status}} if status else {})
        dynamodb.put_item(TableName=TABLE, Item=item)
    dynamodb.put_item(TableName=FLAT, Item={"pk": {"S": "USER#1"}})
    return dynamodb


def test_a_partition_query_answers_that_partition_in_key_order_and_pages(history: Any) -> None:
    mine = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "USER#1"}}}
    assert _page_through(history, **mine) == ["TXN#1", "TXN#2", "TXN#3", "TXN#4", "TXN#5"]
    assert _page_through(history, ScanIndexForward=False, **mine) == ["TXN#5", "TXN#4", "TXN#3", "TXN#2", "TXN#1"]
    ranged = {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":pk": {"S": "USER#1"}, ":a": {"S": "TXN#2"}, ":b": {"S": "TXN#4"}},
    }
    assert _page_through(history, **ranged) == ["TXN#2", "TXN#3", "TXN#4"]
    nobody = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "USER#404"}}}
    assert history.query(TableName=TABLE, **nobody)["Items"] == []
    flat = history.query(
        TableName=FLAT, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "USER#1"}}
    )
    assert flat["Items"] == [{"pk": {"S": "USER#1"}}]


def test_an_index_query_answers_the_matching_items_in_index_order_and_pages(history: Any) -> None:
    pending = {
        "IndexName": "by_status",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "PENDING"}},
    }
    assert _page_through(history, **pending) == ["TXN#5", "TXN#9", "TXN#3", "TXN#4"]
    recent = {
        **pending,
        "KeyConditionExpression": "#s = :s AND ts >= :since",
        "ExpressionAttributeValues": {":s": {"S": "PENDING"}, ":since": {"S": "2026-01-03"}},
    }
    assert _page_through(history, ScanIndexForward=False, **recent) == ["TXN#4", "TXN#3"]
    filtered = {**pending, "FilterExpression": "pk = :me"}
    filtered["ExpressionAttributeValues"] = {**pending["ExpressionAttributeValues"], ":me": {"S": "USER#2"}}
    assert [item["sk"]["S"] for item in history.query(TableName=TABLE, **filtered)["Items"]] == ["TXN#9"]


def test_a_stream_keeps_its_latest_records_with_their_sequence_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import moto_dynamodb
    from local.streams import read_shard, streams_client

    monkeypatch.setattr(moto_dynamodb, "STREAM_KEEP", 8)
    configure_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        stream = client.create_table(
            TableName=FLAT,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        streams = streams_client("us-east-1")
        (shard,) = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"]
        assert read_shard(streams, stream, shard["ShardId"], None)[0] == []
        for number in range(3):
            client.put_item(TableName=FLAT, Item={"pk": {"S": f"item-{number}"}})
        early, _ = read_shard(streams, stream, shard["ShardId"], None)
        for number in range(3, 11):  # 11 records: over 8 * 5/4, trimmed to the latest 8
            client.put_item(TableName=FLAT, Item={"pk": {"S": f"item-{number}"}})
        kept, _ = read_shard(streams, stream, shard["ShardId"], None)
        assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in kept] == [f"item-{n}" for n in range(3, 11)]
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in early + kept]
        assert numbers == list(range(numbers[0], numbers[0] + 11))  # unchanged by the trim
        after_two, _ = read_shard(streams, stream, shard["ShardId"], kept[-2]["dynamodb"]["SequenceNumber"])
        assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in after_two] == ["item-10"]
        with pytest.raises(ClientError, match="TrimmedDataAccessException"):
            read_shard(streams, stream, shard["ShardId"], early[0]["dynamodb"]["SequenceNumber"])
