"""``Idempotency-Key`` for POST endpoints: a retry gets the first response, a reused key with a
different body gets 409, a retry while the first is still running gets 409 too.

A small module rather than Powertools' idempotency utility: that utility's import costs about as
much as boto3 itself on every cold start (``make bench``), and the record here is one item with
one conditional put and one update. Keys are scoped per user and endpoint, kept 24 hours.
Business refusals (4xx) are remembered like successes, as Stripe does; an unexpected failure
releases the key so the client can retry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from payments.core.errors import PaymentError
from payments.http.errors import IdempotencyConflict, IdempotencyInProgress
from payments.store.ops_table import IdempotencyItem

TTL_SECONDS = 24 * 3600
IN_PROGRESS_LOCK_SECONDS = 60
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Mapping[str, Any]


def request_hash(body: str | None) -> str:
    """Hash of the canonical JSON body, so key order and whitespace do not make a new request."""
    try:
        canonical = json.dumps(json.loads(body or "null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body or ""
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    user_id: str, endpoint: str, key: str, body: str | None, handler: Callable[[], StoredResponse]
) -> StoredResponse:
    """Run ``handler`` at most once per (user, endpoint, key); replay its response afterwards."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise PaymentError("Idempotency-Key must be 1-255 characters", header="Idempotency-Key")
    record_key = f"IDEM#{user_id}#{endpoint}#{hashlib.sha256(key.encode()).hexdigest()}"
    digest = request_hash(body)
    now = int(time.time())
    record = IdempotencyItem(
        record_key,
        request_hash=digest,
        status="IN_PROGRESS",
        locked_until=now + IN_PROGRESS_LOCK_SECONDS,
        expires_at=timedelta(seconds=TTL_SECONDS),
    )
    try:
        # New key, or an IN_PROGRESS record whose holder died (its lock expired).
        record.save(
            condition=IdempotencyItem.pk.does_not_exist()
            | ((IdempotencyItem.status == "IN_PROGRESS") & (IdempotencyItem.locked_until < now))
        )
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return _replay(record_key, digest)
    try:
        response = handler()
    except PaymentError as refusal:
        response = StoredResponse(int(refusal.status), refusal.to_dict())
    except BaseException:
        record.delete()
        raise
    record.update(
        actions=[
            IdempotencyItem.status.set("COMPLETED"),
            IdempotencyItem.status_code.set(response.status_code),
            IdempotencyItem.response_body.set(json.dumps(response.body)),
        ]
    )
    return response


def _replay(record_key: str, digest: str) -> StoredResponse:
    existing = IdempotencyItem.get(record_key, consistent_read=True)
    if existing.request_hash != digest:
        raise IdempotencyConflict()
    if existing.status != "COMPLETED" or existing.response_body is None:
        raise IdempotencyInProgress()
    return StoredResponse(int(existing.status_code or 200), json.loads(existing.response_body))
