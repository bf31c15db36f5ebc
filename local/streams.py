"""Lambda's DynamoDB stream event source mappings, on the local stack.

moto keeps a table's stream; nothing in moto invokes our in-process functions from it. This poller
does what Lambda's does for each ``AWS::Lambda::EventSourceMapping`` of the template: reads each
shard in order (with the function's own role: ``local.iam`` checks the stream reads against it),
drops the records the mapping's ``FilterCriteria`` rule out, invokes the function with batches of
``BatchSize`` records, and on a failure starts the next attempt at the first record the function
names (``ReportBatchItemFailures``) or at the failed batch's first record. ``drain()`` delivers
what is there now (the tests, ``make run``'s background thread).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from local import iam
from local.provision import Stack
from local.runtime import FunctionError

Invoke = Callable[[str, Any], Any]


class StreamCursor:
    """Where a reader of one stream is, per shard: after the last record it finished, or at an
    iterator taken earlier (``LATEST``, or a read to do again). The poller keeps one per mapping;
    the tests' oracle reads the stream with its own."""

    def __init__(self, client: Any, stream_arn: str) -> None:
        self.client, self.stream_arn = client, stream_arn
        self._after: dict[str, str] = {}  # shard -> the last record done
        self._pending: dict[str, str] = {}  # shard -> the iterator to read from next

    def skip_to_latest(self) -> None:
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        self._pending = {
            shard["ShardId"]: self.client.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for shard in shards
        }

    def read(self) -> list[tuple[str, list[dict[str, Any]], str | None]]:
        """Per shard: the records not done yet, and the iterator this read started from (if any)."""
        shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        found = []
        for shard in shards:
            shard_id = shard["ShardId"]
            start = self._pending.pop(shard_id, None)
            records, last = read_shard(self.client, self.stream_arn, shard_id, self._after.get(shard_id), start)
            if not records and start is not None:
                self._pending[shard_id] = last  # still nothing since the skip
            found.append((shard_id, records, start))
        return found

    def done(self, shard: str, sequence: str) -> None:
        self._after[shard] = sequence
        self._pending.pop(shard, None)

    def again(self, shard: str, start: str) -> None:
        """Read from ``start`` again (an iterator can be read more than once)."""
        self._pending[shard] = start


@dataclass
class SourceMapping:
    name: str  # the mapping's logical id
    function: str  # the function's logical id
    cursor: StreamCursor
    batch_size: int
    filters: list[dict[str, Any]]
    partial: bool  # ReportBatchItemFailures
    checked: bool = False  # the stream is the table's current one (ListStreams, on the first read)


@dataclass
class DrainReport:
    delivered: int = 0  # records the function took (after filtering)
    failures: list[str] = field(default_factory=list)


class StreamPoller:
    def __init__(self, stack: Stack, invoke: Invoke, region: str, start_at_latest: bool = False) -> None:
        by_name = {physical: logical for logical, physical in stack.physical.items()}
        self._invoke = invoke
        self._lock = threading.Lock()
        self._client = streams_client(region)
        self.mappings = []
        for logical_id, props in stack.event_sources.items():
            if ":dynamodb:" not in str(props.get("EventSourceArn", "")):
                continue
            filters = [json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])]
            mapping = SourceMapping(
                name=logical_id,
                function=by_name[str(props["FunctionName"])],
                cursor=StreamCursor(self._client, str(props["EventSourceArn"])),
                batch_size=int(props.get("BatchSize", 100)),
                filters=filters,
                partial="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            )
            self.mappings.append(mapping)
            if start_at_latest or props.get("StartingPosition") == "LATEST":
                self._skip(mapping)

    def skip_to_latest(self) -> None:
        """Forget what is in the streams now (a test that only wants the records it writes): the
        next drain reads from a ``LATEST`` iterator taken here."""
        with self._lock:
            for mapping in self.mappings:
                self._skip(mapping)

    def _skip(self, mapping: SourceMapping) -> None:
        token = iam.principal.set(mapping.function)
        try:
            mapping.cursor.skip_to_latest()
        finally:
            iam.principal.reset(token)

    def drain(self) -> DrainReport:
        """Deliver every record written so far; a failed batch stops its shard until the next drain."""
        report = DrainReport()
        with self._lock:
            for mapping in self.mappings:
                for shard, records, start in self._shards(mapping):
                    self._deliver(mapping, shard, records, report, start)
        return report

    # ------------------------------------------------------------------ reading, as the function
    def _shards(self, mapping: SourceMapping) -> list[tuple[str, list[dict[str, Any]], str | None]]:
        """Each shard's records after the mapping's position (read with the function's role)."""
        token = iam.principal.set(mapping.function)
        try:
            if not mapping.checked:  # the first read: the stream must be the table's current one
                arn = mapping.cursor.stream_arn
                table = arn.split(":table/", 1)[1].split("/stream/", 1)[0]
                listed = self._client.list_streams(TableName=table)["Streams"]
                if arn not in {stream["StreamArn"] for stream in listed}:
                    raise RuntimeError(f"{mapping.name}: {arn} is not a stream of {table}")
                mapping.checked = True
            return mapping.cursor.read()
        finally:
            iam.principal.reset(token)

    # ------------------------------------------------------------------ invoking
    def _deliver(
        self, mapping: SourceMapping, shard: str, records: list[dict[str, Any]], report: DrainReport, start: str | None
    ) -> None:
        wanted = [
            {**record, "eventSourceARN": mapping.cursor.stream_arn}
            for record in records
            if not mapping.filters or any(matches(pattern, record) for pattern in mapping.filters)
        ]
        sequences = [str(record["dynamodb"]["SequenceNumber"]) for record in records]
        for first in range(0, len(wanted), mapping.batch_size):
            batch = wanted[first : first + mapping.batch_size]
            failed_at = self._invoke_batch(mapping, batch, report)
            if failed_at is not None:
                # The next drain starts at the failed record: the position is the record before it
                # (filtered ones count), or where this read started when it is the first.
                index = sequences.index(failed_at)
                if index:
                    mapping.cursor.done(shard, sequences[index - 1])
                elif start is not None:
                    mapping.cursor.again(shard, start)
                report.delivered += [record["dynamodb"]["SequenceNumber"] for record in batch].index(failed_at)
                return
            report.delivered += len(batch)
        if sequences:  # every record read is done (filtered ones too)
            mapping.cursor.done(shard, sequences[-1])

    def _invoke_batch(self, mapping: SourceMapping, batch: list[dict[str, Any]], report: DrainReport) -> str | None:
        """The sequence number the next attempt starts at, or None when the batch is done."""
        first = str(batch[0]["dynamodb"]["SequenceNumber"])
        try:
            answer = self._invoke(mapping.function, {"Records": batch})
        except FunctionError as failed:
            report.failures.append(f"{mapping.function}: {failed}")
            return first
        failures = answer.get("batchItemFailures") if mapping.partial and isinstance(answer, dict) else None
        if not failures:
            return None
        named = [str(item.get("itemIdentifier", "")) for item in failures]
        sequences = [str(record["dynamodb"]["SequenceNumber"]) for record in batch]
        if any(identifier not in sequences for identifier in named):
            # Lambda treats an unknown or empty identifier as the whole batch failing.
            report.failures.append(f"{mapping.function}: batchItemFailures named {named}, not a record of the batch")
            return first
        report.failures.append(f"{mapping.function}: stopped at record {min(named, key=sequences.index)}")
        return min(named, key=sequences.index)


def read_shard(
    client: Any, stream_arn: str, shard_id: str, after: str | None, iterator: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The shard's records after sequence number ``after`` (from the start when None), or from
    ``iterator``; and the iterator to continue from when nothing was read."""
    if iterator is None:
        kwargs: dict[str, Any] = {"StreamArn": stream_arn, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = client.get_shard_iterator(**kwargs)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while True:
        page = client.get_records(ShardIterator=iterator, Limit=1000)
        records += page["Records"]
        if not page["Records"] or not page.get("NextShardIterator"):
            return records, page.get("NextShardIterator") or iterator
        iterator = page["NextShardIterator"]


def streams_client(region: str) -> Any:
    return boto3.client("dynamodbstreams", region_name=region)


# ---------------------------------------------------------------------- filter patterns
def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """Lambda/EventBridge filter pattern matching, for the operators the template uses (exact
    values, ``prefix``, ``exists``); any other operator is refused rather than guessed."""
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        present = key in value
        if isinstance(expected, Mapping):
            if not present or not matches(expected, value[key]):
                return False
            continue
        if not any(_matches_one(rule, present, value.get(key)) for rule in expected):
            return False
    return True


def _matches_one(rule: Any, present: bool, actual: Any) -> bool:
    if isinstance(rule, Mapping):
        ((operator, operand),) = rule.items()
        if operator == "exists":
            return present is bool(operand)
        if operator == "prefix":
            return present and isinstance(actual, str) and actual.startswith(operand)
        raise NotImplementedError(f"filter operator {operator!r} is not modelled by the local stack")
    return present and actual == rule
