"""Which committed change is which domain event (the mapping table), that the template's stream
filter lets every such change through, that the committed schemas are the generated ones, and how
the publisher stops at the first record it could not publish."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from local import event_schemas
from local.streams import matches
from local.template import load_template
from payments.events.domain import EVENT_TYPES, derive
from tests.support.domain_events import schema_problems

_serialize = TypeSerializer().serialize
CREATED = "2026-03-02T09:00:00.000000+0000"
UPDATED = "2026-03-02T09:05:00.000000+0000"


def _txn(kind: str, status: str, txn_id: str = "txn_1", **extra: Any) -> dict[str, Any]:
    item = {
        "pk": "USER#u_1",
        "sk": f"TXN#{txn_id}",
        "txn_id": txn_id,
        "user_id": "u_1",
        "type": kind,
        "status": status,
        "amount": 150025,
        "currency": "INR",
        "created_at": CREATED,
        "updated_at": UPDATED,
        **extra,
    }
    return {name: value for name, value in item.items() if value is not None}


def _record(new: dict[str, Any] | None, old: dict[str, Any] | None = None, name: str | None = None) -> dict[str, Any]:
    keys = {key: _serialize((new or old or {})[key]) for key in ("pk", "sk")}
    change: dict[str, Any] = {"Keys": keys, "SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        change["NewImage"] = {key: _serialize(value) for key, value in new.items()}
    if old is not None:
        change["OldImage"] = {key: _serialize(value) for key, value in old.items()}
    event_name = name or ("INSERT" if old is None else "REMOVE" if new is None else "MODIFY")
    return {"eventID": uuid.uuid4().hex, "eventName": event_name, "dynamodb": change}


# (type, old status or None for an INSERT, new status, extra attributes) -> event type or None
CASES = [
    ("DEPOSIT", None, "PENDING", {}, None),
    ("DEPOSIT", "PENDING", "PENDING", {"gateway_order_id": "order_1"}, None),
    ("DEPOSIT", "PENDING", "COMPLETED", {}, "deposit.completed"),
    ("DEPOSIT", "PENDING", "FAILED", {"failure_reason": "declined"}, "deposit.failed"),
    ("DEPOSIT", "PENDING", "CANCELLED", {}, "deposit.failed"),
    ("DEPOSIT", "FAILED", "COMPLETED", {}, "deposit.completed"),  # paid late, credited
    ("DEPOSIT", "FAILED", "REVERSED", {}, "deposit.returned"),  # paid late, sent back
    ("WITHDRAWAL", None, "PENDING", {}, None),
    ("WITHDRAWAL", "PENDING", "PROCESSING", {}, None),
    ("WITHDRAWAL", "PROCESSING", "COMPLETED", {}, "withdrawal.completed"),
    ("WITHDRAWAL", "PROCESSING", "FAILED", {}, "withdrawal.failed"),
    ("WITHDRAWAL", "PENDING", "CANCELLED", {}, "withdrawal.failed"),
    ("ADJUSTMENT", None, "COMPLETED", {"txn_id": "wd_1_reversal", "reference_id": "wd_1"}, "withdrawal.reversed"),
    ("ADJUSTMENT", None, "COMPLETED", {"txn_id": "adj_1", "reference_id": "x"}, None),
    ("REFUND", None, "PROCESSING", {"parent_txn_id": "dep_1"}, None),
    ("REFUND", "PROCESSING", "COMPLETED", {"parent_txn_id": "dep_1"}, "refund.completed"),
    ("REFUND", None, "COMPLETED", {"parent_txn_id": "dep_1"}, "refund.completed"),  # reinstated
    ("REFUND", "PROCESSING", "FAILED", {"parent_txn_id": "dep_1"}, "refund.failed"),
    ("REFUND", "COMPLETED", "FAILED", {"parent_txn_id": "dep_1"}, "refund.failed"),  # failed after success
    ("REFUND", "FAILED", "COMPLETED", {"parent_txn_id": "dep_1"}, "refund.completed"),  # made after all
    ("CHARGEBACK", None, "PENDING", {"parent_txn_id": "dep_1", "dispute_id": "dp_1", "shortfall": 0}, "dispute.opened"),
    ("CHARGEBACK", "PENDING", "REVERSED", {"parent_txn_id": "dep_1", "dispute_id": "dp_1"}, "dispute.closed"),
    ("CHARGEBACK", "PENDING", "COMPLETED", {"parent_txn_id": "dep_1", "dispute_id": "dp_1"}, "dispute.closed"),
]


@pytest.mark.parametrize(("kind", "old", "new", "extra", "expected"), CASES)
def test_the_mapping_table(kind: str, old: str | None, new: str, extra: dict[str, Any], expected: str | None) -> None:
    txn_id = extra.pop("txn_id", "txn_1")
    before = _txn(kind, old, txn_id, **extra) if old else None
    event = derive(_record(_txn(kind, new, txn_id, **extra), before))
    assert (event["type"] if event else None) == expected
    if event is not None:
        assert event["id"].startswith(f"evt_{txn_id}_{new.lower()}_")
        assert (event["data"]["amount"], event["data"]["status"], event["user_id"]) == ("1500.25", new, "u_1")
        assert event["occurred_at"] == "2026-03-02T09:05:00.000000Z"
        assert schema_problems(event) == []


def test_every_event_type_is_in_the_table_and_has_a_schema() -> None:
    announced = {case[-1] for case in CASES} | {"kyc.changed"}
    assert announced - {None} == set(EVENT_TYPES)
    assert {name.removesuffix(".json") for name in event_schemas.render()} == set(EVENT_TYPES)


def test_dispute_events_say_the_shortfall_and_the_outcome() -> None:
    extra = {"parent_txn_id": "dep_1", "dispute_id": "dp_1", "shortfall": 2500}
    opened = derive(_record(_txn("CHARGEBACK", "PENDING", "cb_dp_1", **extra)))
    won = derive(_record(_txn("CHARGEBACK", "REVERSED", "cb_dp_1", **extra), _txn("CHARGEBACK", "PENDING", "cb_dp_1")))
    assert opened is not None
    assert won is not None
    assert (opened["data"]["shortfall"], opened["data"]["dispute_id"]) == ("25.00", "dp_1")
    assert "outcome" not in opened["data"]
    assert won["data"]["outcome"] == "WON"
    assert schema_problems(opened) == []
    assert schema_problems(won) == []


def test_a_refund_that_returns_a_late_payment_says_the_wallet_was_not_debited() -> None:
    refund = _txn("REFUND", "COMPLETED", "ret_dep_1", parent_txn_id="dep_1", wallet_debited=False)
    event = derive(_record(refund, _txn("REFUND", "PROCESSING", "ret_dep_1")))
    assert event is not None
    assert event["data"]["wallet_debited"] is False


def _wallet(level: str | None) -> dict[str, Any]:
    item = {"pk": "USER#u_1", "sk": "WALLET", "user_id": "u_1", "balance": 0, "updated_at": UPDATED}
    return item | ({"kyc_level": level} if level else {})


def test_an_id_names_the_change_so_a_status_entered_again_is_a_new_event() -> None:
    """A refund the gateway fails after it completed may be made after all, and fail again:
    FAILED twice, two changes, two ids - while a redelivered record keeps its id."""
    failed = _record(_txn("REFUND", "FAILED", "ret_1"), _txn("REFUND", "PROCESSING", "ret_1"))
    again = _record(_txn("REFUND", "FAILED", "ret_1"), _txn("REFUND", "COMPLETED", "ret_1"))
    first, second, redelivered = derive(failed), derive(again), derive(dict(failed))
    assert first is not None
    assert second is not None
    assert redelivered == first
    assert first["id"] != second["id"]
    assert all(not any(run.isdigit() and len(run) > 6 for run in e["id"].split("_")) for e in (first, second))


def test_kyc_changes_and_nothing_else_of_a_wallet() -> None:
    assert derive(_record(_wallet("BASIC"), _wallet(None)))["data"] == {"from_level": None, "to_level": "BASIC"}
    assert derive(_record(_wallet("ADVANCED"), _wallet("BASIC")))["data"] == {
        "from_level": "BASIC",
        "to_level": "ADVANCED",
    }
    assert derive(_record(_wallet("BASIC"), _wallet("BASIC"))) is None  # a balance change
    assert derive(_record(_wallet(None), _wallet(None))) is None


def test_removals_entries_and_methods_are_no_events() -> None:
    txn = _txn("DEPOSIT", "COMPLETED")
    assert derive(_record(None, txn)) is None
    entry = {"pk": "USER#u_1", "sk": "ENTRY#txn_1#CREDIT", "txn_id": "txn_1", "status": "COMPLETED"}
    assert derive(_record(entry)) is None


def _filters() -> list[dict[str, Any]]:
    import json

    source = load_template()["Resources"]["DomainEventsFunction"]["Properties"]["Events"]["LedgerStream"]
    return [json.loads(item["Pattern"]) for item in source["Properties"]["FilterCriteria"]["Filters"]]


def _records_of_every_case() -> list[dict[str, Any]]:
    records = []
    for kind, old, new, extra, _ in CASES:
        extra = dict(extra)
        txn_id = extra.pop("txn_id", "txn_1")
        records.append(_record(_txn(kind, new, txn_id, **extra), _txn(kind, old, txn_id, **extra) if old else None))
    records += [_record(_wallet("BASIC"), _wallet(None)), _record(_wallet("ADVANCED"), _wallet("BASIC"))]
    return records


def test_the_stream_filter_lets_every_event_through() -> None:
    """On AWS a record the filter drops never reaches the function: its event would be lost."""
    for record in _records_of_every_case():
        if derive(record) is not None:
            assert any(matches(pattern, record) for pattern in _filters()), record["dynamodb"]["Keys"]


def test_the_stream_filter_keeps_entries_pointers_and_plain_wallets_away() -> None:
    dropped = [
        _record({"pk": "USER#u_1", "sk": "ENTRY#txn_1#CREDIT"}),
        _record({"pk": "REF#txn_1", "sk": "REF"}),
        _record({"pk": "USER#u_1", "sk": "METHOD#pm_1"}),
        _record(_wallet(None), _wallet(None)),
    ]
    assert not any(matches(pattern, record) for pattern in _filters() for record in dropped)


def test_the_filter_matcher_refuses_what_it_does_not_model() -> None:
    with pytest.raises(NotImplementedError):
        matches({"a": [{"numeric": [">", 1]}]}, {"a": 2})


def test_the_committed_schemas_are_the_generated_ones() -> None:
    assert event_schemas.main(["--check"]) == 0, "run `make openapi`"


def test_a_schema_refuses_what_an_event_must_not_say() -> None:
    event = derive(_record(_txn("DEPOSIT", "COMPLETED"), _txn("DEPOSIT", "PENDING")))
    assert event is not None
    assert schema_problems({**event, "data": {**event["data"], "amount": "1500.250"}})
    assert schema_problems({**event, "data": {**event["data"], "status": "FAILED"}})
    assert schema_problems({**event, "data": {**event["data"], "card_number": "4111"}})
    assert schema_problems({**event, "type": "deposit.failed"})


class _Bus:
    def __init__(self, refuse: set[int] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse = refuse or set()

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        offset = sum(len(call) for call in self.calls)
        self.calls.append(Entries)
        results = [
            {"ErrorCode": "InternalFailure"} if offset + i in self.refuse else {"EventId": str(offset + i)}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _deposits(count: int) -> list[dict[str, Any]]:
    records = []
    for number in range(count):
        record = _record(_txn("DEPOSIT", "COMPLETED", f"txn_{number}"), _txn("DEPOSIT", "PENDING", f"txn_{number}"))
        record["dynamodb"]["SequenceNumber"] = str(100 + number)
        records.append(record)
    return records


def test_the_publisher_sends_ten_at_a_time_in_order() -> None:
    from payments.events.publisher import publish_batch

    bus = _Bus()
    assert publish_batch(_deposits(23), bus) == {"batchItemFailures": []}
    assert [len(call) for call in bus.calls] == [10, 10, 3]
    assert bus.calls[2][2]["DetailType"] == "deposit.completed"
    assert '"txn_22"' in bus.calls[2][2]["Detail"]


def test_the_publisher_stops_at_the_first_entry_refused() -> None:
    from payments.events.publisher import publish_batch

    bus = _Bus(refuse={12})
    assert publish_batch(_deposits(23), bus) == {"batchItemFailures": [{"itemIdentifier": "112"}]}
    assert len(bus.calls) == 2  # nothing after the refused one's chunk is sent before the retry


def test_records_without_events_are_passed_over() -> None:
    from payments.events.publisher import publish_batch

    bus = _Bus()
    pending = _record(_txn("DEPOSIT", "PENDING"))
    pending["dynamodb"]["SequenceNumber"] = "7"
    assert publish_batch([pending], bus) == {"batchItemFailures": []}
    assert bus.calls == []


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (429, "retry"),
        (401, "retry"),
        (409, "retry"),
        (503, "retry"),
        (400, "dead"),
        (404, "dead"),
        (422, "dead"),
    ],
)
def test_local_delivery_retries_what_an_api_destination_retries(status: int, outcome: str) -> None:
    """EventBridge sends an event again after 401, 407, 409, 429, 5xx or no answer; any other 4xx
    goes to the dead-letter queue at once. The local stack does the same, so an endpoint that
    answers 404 for "not yet" loses events locally too, not only once deployed."""
    from local.event_delivery import post_event
    from tests.support.fixtures import events_endpoint

    url, received, server = events_endpoint(status)
    try:
        assert post_event(url, "x-api-key", "k", {"id": "evt_1"}) == (outcome, status)
    finally:
        server.shutdown()
    assert [(headers["x-api-key"], body) for headers, body in received] == [("k", {"id": "evt_1"})]
    assert post_event("http://127.0.0.1:9/closed", "x-api-key", "k", {"id": "evt_1"}) == ("retry", 0)
