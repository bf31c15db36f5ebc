"""The local stack's TransactWriteItems (moto, with the item-level rollback of
``local/moto_transactions.py``) keeps DynamoDB's all-or-nothing outcome and its cancellation
reasons, and never copies a whole table."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.stack import configure_moto

TABLE = "ledger"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    configure_moto()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        client.create_table(
            TableName="flat",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


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
    client.put_item(TableName="flat", Item={"pk": {"S": "HEAD"}, "seq": {"N": "3"}})


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
                "TableName": "flat",
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
    assert dynamodb.get_item(TableName="flat", Key={"pk": {"S": "HEAD"}})["Item"]["seq"] == {"N": "3"}
    assert len(_backend_table(TABLE).stream_shard.items) == stream_before


def test_a_committed_transaction_applies_every_write(dynamodb: Any) -> None:
    _seed(dynamodb)
    dynamodb.transact_write_items(TransactItems=_writes(version_expected="3"))
    items = _items(dynamodb)
    assert (items["WALLET"]["balance"], items["WALLET"]["version"]) == ({"N": "150"}, {"N": "2"})
    assert items["TXN#new"]["status"] == {"S": "COMPLETED"}
    assert "TXN#old" not in items
    assert items["BYSTANDER"]["n"] == {"N": "7"}
    assert dynamodb.get_item(TableName="flat", Key={"pk": {"S": "HEAD"}})["Item"]["seq"] == {"N": "4"}


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
