"""Refusals of the HTTP edge itself (the Idempotency-Key contract)."""

from __future__ import annotations

from http import HTTPStatus

from payments.core.errors import PaymentError


class IdempotencyConflict(PaymentError):
    code = "IDEMPOTENCY_CONFLICT"
    status = HTTPStatus.CONFLICT
    default_message = "This Idempotency-Key was used with a different request"


class IdempotencyInProgress(PaymentError):
    code = "IDEMPOTENCY_IN_PROGRESS"
    status = HTTPStatus.CONFLICT
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly"
