"""Anchors: the chain heads, written where a table administrator cannot rewrite them.

CloudWatch Logs events cannot be edited once written (the API has no update; deleting needs
``logs:Delete*`` on the log group, which no function and no table role holds), so the group named
by ``AUDIT_ANCHOR_LOG_GROUP`` is an append-only record of where every chain stood. Rewriting a
whole chain in the table - new records, recomputed hashes, a new head - still disagrees with the
last anchor of that chain, which the verifier checks. The log group keeps its events for
``AuditAnchorRetentionDays`` (template parameter) and is retained when the stack is deleted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from payments.core.clock import sortable, utcnow
from payments.platform.settings import settings

#: PutLogEvents takes at most 10,000 events and 1 MiB per call; an anchor event is < 200 bytes.
_BATCH = 2000


@dataclass(frozen=True)
class Anchor:
    chain: str
    seq: int
    chain_hash: str


def _client() -> Any:
    import boto3

    return boto3.client("logs", region_name=settings.region)


def write(anchors: Iterable[Anchor]) -> int:
    """Append one event per anchor to today's stream of the anchor log group."""
    events = [
        {"chain": anchor.chain, "seq": anchor.seq, "chain_hash": anchor.chain_hash, "anchored_at": sortable(utcnow())}
        for anchor in anchors
    ]
    if not events:
        return 0
    client = _client()
    group = settings.audit_anchor_log_group
    stream = f"anchors-{utcnow():%Y-%m-%d}"
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    timestamp = int(utcnow().timestamp() * 1000)
    for start in range(0, len(events), _BATCH):
        batch = [
            {"timestamp": timestamp, "message": json.dumps(event, sort_keys=True)}
            for event in events[start : start + _BATCH]
        ]
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    return len(events)


def every() -> dict[str, dict[int, set[str]]]:
    """Every anchor ever written, per chain and ``seq``: the verifier checks each of them, so an
    anchor appended later cannot override an earlier one (two that disagree are a finding)."""
    found: dict[str, dict[int, set[str]]] = {}
    paginator = _client().get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=settings.audit_anchor_log_group):
        for event in page.get("events", []):
            try:
                body = json.loads(event["message"])
                chain, seq, chain_hash = str(body["chain"]), int(body["seq"]), str(body["chain_hash"])
            except (ValueError, KeyError, TypeError):
                continue
            found.setdefault(chain, {}).setdefault(seq, set()).add(chain_hash)
    return found
