"""The money invariants, checked over the whole ledger table after a test."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from payments.ledger.reconciliation import check_partition

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


def _keys(dynamodb_client: Any, table_name: str, prefix: str) -> set[tuple[str, str]]:
    found = set()
    paginator = dynamodb_client.get_paginator("scan")
    for page in paginator.paginate(TableName=table_name, ProjectionExpression="pk, sk", ConsistentRead=True):
        for raw in page["Items"]:
            if raw["sk"]["S"].startswith(prefix):
                found.add((raw["pk"]["S"], raw["sk"]["S"].removeprefix(prefix)))
    return found


def entries_without_audit(dynamodb_client: Any, ledger_table: str, audit_table: str) -> set[tuple[str, str]]:
    """Ledger entries with no audit record (committed in the same transaction, so never)."""
    return _keys(dynamodb_client, ledger_table, "ENTRY#") - _keys(dynamodb_client, audit_table, "E#")


#: Secrets the suite configures; none may ever be stored.
GATEWAY_SECRETS = (
    "rzp_test_secret_do_not_store",
    "rzp_webhook_secret_do_not_store",
    "sk_test_do_not_store",
    "whsec_test_do_not_store",
    "mock_key_secret_local_only",
    "mock_webhook_secret_local_only",
)


def text_findings(text: str) -> list[str]:
    """Luhn-valid card numbers and gateway secrets in a piece of text (logs, items); numbers are
    reported masked, so a finding never prints the card number it found."""
    from payments.guards.card_data import card_numbers

    found = [secret[:4] + "..." for secret in GATEWAY_SECRETS if secret in text]
    found += [f"a card number {digits[:2]}...{digits[-2:]}" for digits in card_numbers(text)]
    return found


#: Attributes that hold keys, hashes and ciphertext, never anything a person typed: digit runs in
#: them are an accident of the encoding (a hex event id has Luhn-valid runs about 1 time in 250).
OPAQUE_ATTRIBUTES = frozenset(
    {
        "pk",
        "sk",
        "gsi2pk",
        "gsi2sk",
        "ts",
        "event_id",
        "request_hash",
        "token_envelope",
        "task_token",  # Step Functions' opaque token: a random digit run in it may pass Luhn
        "audit_hash",
        "prev_hash",
        "chain_hash",
        "pending_at",
    }
)


def sensitive_findings(dynamodb_client: Any, table_name: str) -> list[str]:
    """Card numbers (the one detector of payments.guards.card_data) and gateway secrets in any
    stored attribute, nested values and JSON texts included."""
    found = []
    for page in dynamodb_client.get_paginator("scan").paginate(TableName=table_name):
        for raw in page["Items"]:
            item = {key: _deserialize(value) for key, value in raw.items()}
            for name, value in item.items():
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                if name in OPAQUE_ATTRIBUTES:
                    hits = [secret for secret in GATEWAY_SECRETS if secret in text]
                else:
                    hits = text_findings(text)
                if hits:
                    found.append(f"{item.get('pk')}.{name}: {hits}")
    return found


def stranded_locks(dynamodb_client: Any, table_name: str, sfn_client: Any) -> list[str]:
    """Withdrawals whose funds are still locked although no saga is running for them any more."""
    machines = sfn_client.list_state_machines()["stateMachines"]
    if not machines:
        return []
    machine_arn = machines[0]["stateMachineArn"]
    stranded = []
    for page in dynamodb_client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for raw in page["Items"]:
            item = {key: _deserialize(value) for key, value in raw.items()}
            # Saga withdrawals carry a stage; ledger-level tests write bare WITHDRAWAL records.
            if item.get("type") != "WITHDRAWAL" or item.get("status") not in ("PENDING", "PROCESSING"):
                continue
            if not item.get("stage"):
                continue
            execution_arn = f"{machine_arn.replace(':stateMachine:', ':execution:')}:{item['txn_id']}"
            try:
                status = sfn_client.describe_execution(executionArn=execution_arn)["status"]
            except sfn_client.exceptions.ExecutionDoesNotExist:
                status = "MISSING"
            if status == "RUNNING":
                continue
            # The saga may have finished between the scan and this look: read the item again.
            fresh = dynamodb_client.get_item(
                TableName=table_name, Key={"pk": raw["pk"], "sk": raw["sk"]}, ConsistentRead=True
            )["Item"]
            if fresh["status"]["S"] in ("PENDING", "PROCESSING"):
                stranded.append(f"{item['txn_id']} is {fresh['status']['S']} but its execution is {status}")
    return stranded
