"""Publish the domain events of a batch of ledger stream records to the stack's EventBridge bus.

Lambda reads the stream in order per shard and, with ``ReportBatchItemFailures``, starts the next
attempt at the record we name. So the batch is published in order and publishing stops at the
first record not published (PutEvents refused the entry, or the call failed or timed out): that
record and every later one are delivered again, nothing is skipped. What was published before it
may be published twice (a timeout that did act, a crash after the call): the same event id both
times, which is what consumers dedupe by (docs/events/README.md).

A record that cannot be read stops the shard the same way (the ``IteratorAge`` alarm fires)
rather than being skipped: an event is never lost silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from payments.events.domain import SOURCE, DomainEvent, derive
from payments.platform.observability import logger, metrics
from payments.platform.settings import settings

#: PutEvents takes at most 10 entries per call.
_PUT_EVENTS_MAX = 10


@cache
def _events_client() -> Any:
    """One client per execution environment (made on first use, kept across warm invocations).
    Its timeouts fit the function's 30 s: a hung call fails here (the batch is retried from the
    record it stopped at) instead of running the invocation out of time."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "events",
        config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}),
    )


def publish_batch(records: Iterable[Mapping[str, Any]], client: Any = None) -> dict[str, list[dict[str, str]]]:
    """Publish the events of ``records`` (a Lambda DynamoDB stream batch); the answer names the
    first record that was not published, if any (Lambda's partial batch response)."""
    pending: list[tuple[str, DomainEvent]] = []
    for record in records:
        sequence = str(record["dynamodb"]["SequenceNumber"])
        try:
            event = derive(record)
        except Exception:  # noqa: BLE001 - a record we cannot read must stop the shard, loudly
            logger.exception("a ledger stream record could not be read; the stream waits for a fix")
            metrics.add_metric(name="DomainEventUnreadable", unit="Count", value=1)
            return _publish_until(sequence, pending, client)
        if event is not None:
            pending.append((sequence, event))
    return _publish_until(None, pending, client)


def _publish_until(
    stop: str | None, pending: list[tuple[str, DomainEvent]], client: Any
) -> dict[str, list[dict[str, str]]]:
    """Publish ``pending`` in order; the first sequence number not published (``stop`` when all were)."""
    if pending:
        client = client or _events_client()
    for start in range(0, len(pending), _PUT_EVENTS_MAX):
        chunk = pending[start : start + _PUT_EVENTS_MAX]
        not_published = _put(client, [event for _, event in chunk])
        published = len(chunk) if not_published is None else not_published
        if published:
            metrics.add_metric(name="DomainEventsPublished", unit="Count", value=published)
        if not_published is not None:
            metrics.add_metric(name="DomainEventPublishFailed", unit="Count", value=1)
            return {"batchItemFailures": [{"itemIdentifier": chunk[not_published][0]}]}
    return {"batchItemFailures": [{"itemIdentifier": stop}] if stop is not None else []}


def _put(client: Any, events: list[DomainEvent]) -> int | None:
    """PutEvents for ``events``: None when all were accepted, else the index of the first that was
    not (entries after it may have been accepted: they are published again, same ids)."""
    from botocore.exceptions import BotoCoreError, ClientError

    entries = [
        {
            "EventBusName": settings.event_bus_name,
            "Source": SOURCE,
            "DetailType": event["type"],
            "Detail": json.dumps(event, separators=(",", ":")),
        }
        for event in events
    ]
    try:
        answer = client.put_events(Entries=entries)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("PutEvents failed; the batch is delivered again from here", extra={"error": str(exc)})
        return 0
    results = answer.get("Entries", [])
    for index, result in enumerate(results):
        if result.get("ErrorCode") or not result.get("EventId"):
            logger.warning(
                "EventBridge refused an event; the batch is delivered again from it",
                extra={"event_type": events[index]["type"], "error_code": result.get("ErrorCode")},
            )
            return index
    if len(results) < len(events) or answer.get("FailedEntryCount"):  # an answer that accounts for less
        logger.warning("PutEvents answered for fewer events than sent; the batch is delivered again from there")
        return len(results) if len(results) < len(events) else 0
    return None
