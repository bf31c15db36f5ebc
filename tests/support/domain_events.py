"""The domain events the tests see: the ledger stream read as Lambda reads it (local.streams), the
publisher function invoked, and the events taken off the stack's bus (local.event_delivery)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from local.event_delivery import EventDelivery
from local.stack import Deployment, make_event_delivery, make_stream_poller
from local.streams import StreamCursor, StreamPoller, streams_client
from local.template import REPO_ROOT
from payments.events.domain import derive


@cache
def _schemas() -> dict[str, Any]:
    from jsonschema import Draft202012Validator, FormatChecker

    return {
        path.stem: Draft202012Validator(json.loads(path.read_text()), format_checker=FormatChecker())
        for path in (REPO_ROOT / "docs" / "events").glob("*.json")
    }


def schema_problems(detail: dict[str, Any]) -> list[str]:
    """What is wrong with an event's detail against its committed schema (empty when valid)."""
    validator = _schemas().get(str(detail.get("type")))
    if validator is None:
        return [f"no schema for event type {detail.get('type')!r}"]
    return [f"{detail.get('id')}: {error.message}" for error in validator.iter_errors(detail)]


_deliveries: dict[str, EventDelivery] = {}


def _announces(record: dict[str, Any]) -> bool:
    """Transaction and wallet records: the ones a domain event can come from (entries, pointers,
    methods never do; keeping them would only cost memory)."""
    sk = record["dynamodb"]["Keys"]["sk"]["S"]
    return sk.startswith("TXN#") or sk == "WALLET"


class DomainEvents:
    """Everything committed from now on, published and delivered when :meth:`collect` is called;
    and, read apart from the publisher, the committed changes themselves (the oracle)."""

    def __init__(self, deployment: Deployment, invoke: Any = None) -> None:
        self.poller: StreamPoller = make_stream_poller(deployment, start_at_latest=True, invoke=invoke)
        if deployment.stack.name not in _deliveries:  # one rule and queue per stack
            _deliveries[deployment.stack.name] = make_event_delivery(deployment)
        self.delivery = _deliveries[deployment.stack.name]
        self.delivery.drain()  # what an earlier test left on the bus is not this test's
        self.envelopes: list[dict[str, Any]] = []
        self.last_report: Any = None
        self._changes = StreamCursor(
            streams_client(deployment.stack.region), deployment.stack.attributes["LedgerTable"]["StreamArn"]
        )
        self._changes.skip_to_latest()
        self.changes: list[dict[str, Any]] = []  # every committed ledger change since, in order

    def skip(self) -> DomainEvents:
        """Start from what is committed next (a test's own changes only)."""
        self.poller.skip_to_latest()
        self._changes.skip_to_latest()
        self.changes.clear()
        self.delivery.drain()
        self.envelopes.clear()
        return self

    def collect(self) -> list[dict[str, Any]]:
        """Drain the stream and the bus; every detail delivered so far (duplicates included)."""
        self.last_report = self.poller.drain()
        for envelope in self.delivery.drain():
            assert envelope["source"] == "serverless-wallet", envelope
            assert envelope["detail-type"] == envelope["detail"]["type"], envelope
            assert schema_problems(envelope["detail"]) == [], schema_problems(envelope["detail"])
            self.envelopes.append(envelope)
        return [envelope["detail"] for envelope in self.envelopes]

    def of(self, user_id: str) -> list[dict[str, Any]]:
        return [detail for detail in self.collect() if detail["user_id"] == user_id]

    def expected_ids(self, user_id: str) -> set[str]:
        """The ids of the events the committed changes of ``user_id`` announce."""
        self._read_changes()
        events = (derive(record) for record in self.changes)
        return {event["id"] for event in events if event is not None and event["user_id"] == user_id}

    def problems(self, user_id: str) -> list[str]:
        """Exactly one event (by id; a redelivery is the same event again) per committed change."""
        delivered = self.of(user_id)
        found = []
        by_id: dict[str, dict[str, Any]] = {}
        for detail in delivered:
            if by_id.setdefault(detail["id"], detail) != detail:
                found.append(f"event {detail['id']} delivered twice with different content")
        expected = self.expected_ids(user_id)
        if missing := expected - by_id.keys():
            found.append(f"committed changes without their event: {sorted(missing)}")
        if extra := by_id.keys() - expected:
            found.append(f"events without a committed change: {sorted(extra)}")
        return found + _against_the_ledger(user_id, list(by_id.values()))

    def _read_changes(self) -> None:
        """The stream read directly (not as the publisher reads it), from where it was last read."""
        for shard, records, _ in self._changes.read():
            if records:
                self._changes.done(shard, records[-1]["dynamodb"]["SequenceNumber"])
            self.changes += [record for record in records if _announces(record)]


#: What a client backend must have heard of each transaction as it stands now - written out here
#: apart from payments.events.domain, so that a mapping or a stream filter that loses an outcome
#: is caught by the ledger's final state and not only by the publisher's own derivation.
_OUTCOMES = {
    ("DEPOSIT", "COMPLETED"): "deposit.completed",
    ("DEPOSIT", "FAILED"): "deposit.failed",
    ("DEPOSIT", "REVERSED"): "deposit.returned",
    ("WITHDRAWAL", "COMPLETED"): "withdrawal.completed",
    ("WITHDRAWAL", "FAILED"): "withdrawal.failed",
    ("WITHDRAWAL", "CANCELLED"): "withdrawal.failed",
    ("REFUND", "COMPLETED"): "refund.completed",
    ("REFUND", "FAILED"): "refund.failed",
    ("CHARGEBACK", "PENDING"): "dispute.opened",
    ("CHARGEBACK", "REVERSED"): "dispute.closed",
    ("CHARGEBACK", "COMPLETED"): "dispute.closed",
    ("ADJUSTMENT", "COMPLETED"): "withdrawal.reversed",
}


def _against_the_ledger(user_id: str, events: list[dict[str, Any]]) -> list[str]:
    """Each transaction's current status was announced, and is what its latest event says."""
    from payments.store.ledger_table import TransactionItem, user_pk

    found = []
    for txn in TransactionItem.query(user_pk(user_id), TransactionItem.sk.startswith("TXN#"), consistent_read=True):
        mine = sorted(
            (e for e in events if e["data"].get("transaction_id") == txn.txn_id), key=lambda e: e["occurred_at"]
        )
        wanted = _OUTCOMES.get((txn.type, txn.status))
        if txn.type == "ADJUSTMENT" and not txn.txn_id.endswith("_reversal"):
            wanted = None  # test fixtures' adjustments; the flows make only a bounced payout's
        if txn.type == "CHARGEBACK" and not any(e["type"] == "dispute.opened" for e in mine):
            found.append(f"{txn.txn_id}: a dispute without dispute.opened")
        if wanted is None:
            continue
        if not mine or (mine[-1]["type"], mine[-1]["data"]["status"]) != (wanted, txn.status):
            said = [(e["type"], e["data"]["status"]) for e in mine]
            found.append(f"{txn.txn_id} is {txn.type} {txn.status}; its events said {said}")
    return found
