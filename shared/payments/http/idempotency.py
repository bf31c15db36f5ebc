"""``Idempotency-Key`` for POST endpoints: a retry gets the first response, a reused key with a
different body gets 409, a retry while the first is still running gets 409 too.

A key is bound to one operation for good: its id (the refund, deposit or withdrawal id) is derived
from the key, so a second run of the request - after an error, or after the function died and
its lock expired - finds the operation the first run started and resumes it (the ledger refuses
to move its money twice), instead of starting another. The record is never deleted: an
unexpected failure only releases its lock, so the client's retry resumes at once.

Refusals (4xx) are remembered like successes, as Stripe does; 5xx answers are not (they say
"retry"). A small module rather than Powertools' idempotency utility, whose import costs about
as much as boto3 on every cold start (``make bench``). Keys are scoped per user and endpoint and
kept 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from pynamodb.exceptions import PutError

from payments.core.clock import epoch_seconds
from payments.core.errors import InvalidRequest, PaymentError
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
    return base64.b32encode(hashlib.sha256(canonical.encode()).digest()).decode().lower()


def operation_id(user_id: str, endpoint: str, key: str) -> str:
    """The id of the operation a key stands for (without the flow's prefix): the same user,
    endpoint and key always name the same operation."""
    digest = hashlib.sha256(f"{user_id}\x1f{endpoint}\x1f{key}".encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


def run_once(
    user_id: str, endpoint: str, key: str, body: str | None, handler: Callable[[str], StoredResponse]
) -> StoredResponse:
    """Run ``handler(operation_id)`` at most once per (user, endpoint, key) to a final answer;
    replay that answer afterwards."""
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidRequest("Idempotency-Key must be 1-255 characters", field="Idempotency-Key")
    key_hash = base64.b32encode(hashlib.sha256(key.encode()).digest()).decode().lower()
    record_key = f"IDEM#{user_id}#{endpoint}#{key_hash}"
    digest = request_hash(body)
    now = int(epoch_seconds())
    record = IdempotencyItem(
        record_key,
        request_hash=digest,
        status="IN_PROGRESS",
        locked_until=now + IN_PROGRESS_LOCK_SECONDS,
        expires_at=timedelta(seconds=TTL_SECONDS),
    )
    try:
        # A new key, or the same request again after its holder died or failed (lock released).
        record.save(
            condition=IdempotencyItem.pk.does_not_exist()
            | (
                (IdempotencyItem.status == "IN_PROGRESS")
                & (IdempotencyItem.locked_until < now)
                & (IdempotencyItem.request_hash == digest)
            )
        )
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return _replay(record_key, digest)
    try:
        response = handler(operation_id(user_id, endpoint, key))
    except PaymentError as refusal:
        if refusal.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            _release(record)
            raise
        response = StoredResponse(int(refusal.status), refusal.to_dict())
    except Exception:
        _release(record)  # the retry resumes the same operation at once
        raise
    record.update(
        actions=[
            IdempotencyItem.status.set("COMPLETED"),
            IdempotencyItem.status_code.set(response.status_code),
            IdempotencyItem.response_body.set(json.dumps(response.body)),
        ]
    )
    return response


def _release(record: IdempotencyItem) -> None:
    record.update(actions=[IdempotencyItem.locked_until.set(0)], condition=IdempotencyItem.status == "IN_PROGRESS")


def _replay(record_key: str, digest: str) -> StoredResponse:
    existing = IdempotencyItem.get(record_key, consistent_read=True)
    if existing.request_hash != digest:
        raise IdempotencyConflict()
    if existing.status != "COMPLETED" or existing.response_body is None:
        raise IdempotencyInProgress()
    return StoredResponse(int(existing.status_code or 200), json.loads(existing.response_body))
