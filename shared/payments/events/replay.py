"""Publish again the events of stream records Lambda gave up on.

A record still unpublished after ``MaximumRecordAgeInSeconds`` (6 h) is dropped by the event
source mapping, which puts the batch's shard and sequence range in ``DomainEventsFailuresQueue``
(a ``DDBStreamBatchInfo``). The stream keeps the records until they are 24 hours old: this reads
each range back and publishes it the way the stream poller would have (``publish_batch``: the
same ids, so consumers that got some of them already skip those). A range whose records the
stream no longer has is reported and left in the queue (14 days) for an operator; the ledger
still says what happened.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from payments.events.publisher import publish_batch
from payments.platform.observability import logger
from payments.platform.settings import settings

#: What the stream answers for records it no longer has (or a stream that is gone).
_GONE = frozenset({"TrimmedDataAccessException", "ExpiredIteratorException", "ResourceNotFoundException"})


@dataclass
class ReplayReport:
    ranges: int = 0  # ranges published again (and taken off the queue)
    records: int = 0
    gone: list[str] = field(default_factory=list)  # ranges the stream no longer has
    stopped: str | None = None  # publishing failed again: the rest waits for the next run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay_given_up(max_ranges: int = 100) -> ReplayReport:
    import boto3
    from botocore.exceptions import ClientError

    sqs, streams = boto3.client("sqs"), boto3.client("dynamodbstreams")
    queue = settings.domain_events_failures_queue_url
    report = ReplayReport()
    seen: set[str] = set()
    while report.ranges + len(report.gone) < max_ranges:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=300)
        fresh = [message for message in messages.get("Messages", []) if message["MessageId"] not in seen]
        if not fresh:
            return report
        for message in fresh:
            seen.add(message["MessageId"])
            info = json.loads(message["Body"])["DDBStreamBatchInfo"]
            label = f"{info['shardId']} {info['startSequenceNumber']}..{info['endSequenceNumber']}"
            try:
                records = _read_range(streams, info)
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in _GONE:
                    raise
                logger.error("the stream no longer has a range given up on; see the ledger", extra={"range": label})
                report.gone.append(label)
                continue
            if publish_batch(records)["batchItemFailures"]:
                report.stopped = label
                return report
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            report.ranges += 1
            report.records += len(records)
    return report


def _read_range(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of ``[startSequenceNumber, endSequenceNumber]`` of one shard, in order."""
    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            if int(record["dynamodb"]["SequenceNumber"]) >= start:
                records.append({**record, "eventSourceARN": info["streamArn"]})
        if not page["Records"]:
            return records
        iterator = page.get("NextShardIterator")
    return records
