"""Domain events, in-process: the ledger stream read as Lambda reads it, DomainEventsFunction
publishing to the stack's bus, the events taken off the bus by a rule - one event per committed
change, each valid against its schema in docs/events/, none for a change that did not commit,
and none lost or changed when publishing fails part-way."""

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from tests.support.api import InProcessApi, Wallets
from tests.support.domain_events import DomainEvents

REFUNDS = "/api/v1/payments/refunds"


def _deposit(wallets: Wallets, user_id: str, token: str = "tok_mock_success", amount: str = "1000.50") -> str:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token=token), amount).body
    wallets.pay(started["order_id"], "pay" if token != "tok_mock_decline" else "decline")
    return started["transaction_id"]


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def test_a_deposit_reported_twice_is_one_event(domain_events: DomainEvents, wallets: Wallets, user_id: str) -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id), "1000.50").body
    paid = wallets.pay(started["order_id"])  # the Mock's webhook credits it
    data = {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]}
    assert wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], data).status == 200
    events = domain_events.of(user_id)
    assert _types(events) == ["deposit.completed"]
    (event,) = events
    assert event["id"].startswith(f"evt_{started['transaction_id']}_completed_")
    assert event["data"] | {"created_at": "-"} == {
        "transaction_id": started["transaction_id"],
        "type": "DEPOSIT",
        "status": "COMPLETED",
        "amount": "1000.50",
        "currency": "INR",
        "reference_id": None,
        "gateway": "mock",
        "failure_reason": None,
        "created_at": "-",
    }
    assert domain_events.problems(user_id) == []


def test_a_declined_deposit_is_deposit_failed(domain_events: DomainEvents, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id, token="tok_mock_decline")
    events = domain_events.of(user_id)
    assert [(e["type"], e["data"]["transaction_id"]) for e in events] == [("deposit.failed", deposit_id)]
    assert events[0]["data"]["failure_reason"]
    assert domain_events.problems(user_id) == []


def test_a_refund_is_refund_completed_after_its_deposit(
    domain_events: DomainEvents, api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    deposit_id = _deposit(wallets, user_id)
    reply = api.post("RefundCreateFunction", REFUNDS, user_id, {"transaction_id": deposit_id, "amount": "300.25"})
    assert reply.status == 200, reply.body
    events = domain_events.of(user_id)
    assert _types(events) == ["deposit.completed", "refund.completed"]
    refund = events[1]["data"]
    assert (refund["amount"], refund["parent_transaction_id"], refund["wallet_debited"]) == ("300.25", deposit_id, True)
    assert domain_events.problems(user_id) == []


def test_a_refused_change_commits_nothing_and_announces_nothing(
    domain_events: DomainEvents, api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    deposit_id = _deposit(wallets, user_id, amount="100.00")
    spend = NewTransaction(f"adj_{user_id}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED)
    Ledger().debit(user_id, 9_000, spend)  # 90.00 spent: a refund of 20.00 no longer fits
    reply = api.post("RefundCreateFunction", REFUNDS, user_id, {"transaction_id": deposit_id, "amount": "20.00"})
    assert (reply.status, reply.body["error"]["code"]) == (402, "PAY_002")
    # The refund's transaction was cancelled whole: no record reached the stream, no event.
    assert _types(domain_events.of(user_id)) == ["deposit.completed"]
    assert domain_events.problems(user_id) == []


def test_an_admin_kyc_change_is_kyc_changed(domain_events: DomainEvents, api: InProcessApi, user_id: str) -> None:
    path = f"/api/v1/payments/admin/users/{user_id}/kyc"
    for level in ("INTERMEDIATE", "INTERMEDIATE", "ADVANCED"):  # the same level again is no change
        reply = api.call(
            "AdminUserKycFunction",
            "PUT",
            path,
            "ops_admin",
            {"kyc_level": level},
            path_params={"user_id": user_id},
            roles="admin,user",
        )
        assert reply.status == 200, reply.body
    events = domain_events.of(user_id)
    assert [(e["type"], e["data"]) for e in events] == [
        ("kyc.changed", {"from_level": None, "to_level": "INTERMEDIATE"}),
        ("kyc.changed", {"from_level": "INTERMEDIATE", "to_level": "ADVANCED"}),
    ]
    assert len({e["id"] for e in events}) == 2
    assert domain_events.problems(user_id) == []


class _FailingOnce:
    """An EventBridge client whose first PutEvents fails the way ``mode`` says."""

    def __init__(self, real: Any, mode: str) -> None:
        self.real, self.mode, self.calls = real, mode, 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls > 1:
            return self.real.put_events(Entries=Entries)
        if self.mode == "unreachable":
            raise EndpointConnectionError(endpoint_url="https://events.us-east-1.amazonaws.com")
        # EventBridge took every entry but the second (throttled): those after it went through.
        answer = self.real.put_events(Entries=[entry for i, entry in enumerate(Entries) if i != 1])["Entries"]
        return {"FailedEntryCount": 1, "Entries": [answer[0], {"ErrorCode": "ThrottlingException"}, *answer[1:]]}


@pytest.mark.parametrize("mode", ["unreachable", "second_entry_refused"])
def test_publishing_that_fails_is_retried_from_where_it_stopped(
    domain_events: DomainEvents, wallets: Wallets, user_id: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.events import publisher

    deposits = [_deposit(wallets, user_id, amount=amount) for amount in ("10.00", "20.00", "30.00")]
    failing = _FailingOnce(publisher._events_client(), mode)
    monkeypatch.setattr(publisher, "_events_client", lambda: failing)
    first = domain_events.of(user_id)
    assert domain_events.last_report.failures, "the failed publish must stop the batch"
    second = domain_events.of(user_id)  # the next attempt starts at the failed record
    assert domain_events.last_report.failures == []
    completed = [(event["data"]["transaction_id"], event["id"]) for event in second]
    assert {txn for txn, _ in completed} == set(deposits)
    assert len({event_id for _, event_id in completed}) == 3  # one id per deposit, whatever was resent
    if mode == "unreachable":
        assert first == []
        assert len(second) == 3
    else:  # the first went once; the third was taken on the first attempt and is sent again
        assert [txn for txn, _ in completed].count(deposits[2]) == 2
    assert domain_events.problems(user_id) == []


def test_an_unreadable_record_stops_the_stream_until_fixed(
    domain_events: DomainEvents, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.events import domain, publisher

    first, second = (_deposit(wallets, user_id, amount=amount) for amount in ("10.00", "20.00"))
    real = domain.derive

    def broken(record: dict[str, Any]) -> Any:
        if record["dynamodb"]["Keys"]["sk"]["S"] == f"TXN#{first}" and record["eventName"] == "MODIFY":
            raise KeyError("a record this code cannot read")
        return real(record)

    monkeypatch.setattr(publisher, "derive", broken)
    assert domain_events.of(user_id) == []  # nothing after the unreadable record is skipped
    assert domain_events.last_report.failures
    monkeypatch.setattr(publisher, "derive", real)  # the fix, deployed
    assert _types(domain_events.of(user_id)) == ["deposit.completed", "deposit.completed"]
    assert [e["data"]["transaction_id"] for e in domain_events.of(user_id)] == [first, second]
    assert domain_events.problems(user_id) == []


def test_ranges_lambda_gave_up_on_are_published_again_with_the_same_ids(
    domain_events: DomainEvents, wallets: Wallets, user_id: str, aws: Any
) -> None:
    """`make replay-events`: DomainEventsFunction reads the failures queue's stream ranges back and
    publishes them (as its role allows: local.iam); a range the stream no longer has stays queued."""
    import json

    import boto3

    deposit_id = _deposit(wallets, user_id)
    (published,) = domain_events.of(user_id)
    assert domain_events.expected_ids(user_id) == {published["id"]}  # reads the stream's changes
    records = [r for r in domain_events.changes if r["dynamodb"]["Keys"]["sk"]["S"] == f"TXN#{deposit_id}"]
    stream = aws.stack.attributes["LedgerTable"]["StreamArn"]
    shard = boto3.client("dynamodbstreams").describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]
    sqs, queue = boto3.client("sqs"), aws.stack.physical["DomainEventsFailuresQueue"]

    def given_up(start: str, end: str) -> None:
        info = {
            "shardId": shard["ShardId"],
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "streamArn": stream,
        }
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"version": "1.0", "DDBStreamBatchInfo": info}))

    given_up(records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"])
    given_up("100000000000000000001", "100000000000000000002")  # trimmed long ago
    report = aws.runtime.invoke("DomainEventsFunction", {"replay": True})
    assert (report["ranges"], report["stopped"]) == (1, None)
    assert report["records"] >= len(records)  # the range holds the deposit's other writes too
    assert len(report["gone"]) == 1
    again = domain_events.of(user_id)
    assert [event["id"] for event in again] == [published["id"], published["id"]]  # the same event, twice
    assert again[0] == again[1]
    counts = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
    sqs.purge_queue(QueueUrl=queue)  # the gone range, kept for an operator
