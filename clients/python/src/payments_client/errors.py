"""One exception class per error code of the API (the README's error table, docs/openapi.json).

Every error the API answers has the envelope ``{"success": false, "error": {"code", "message",
"details"}}``; the client raises the class of its code, carrying the code, the message, the
details, the HTTP status and the request id (``x-amzn-RequestId``) to quote in a support request.
"""

from __future__ import annotations

from typing import Any


class PaymentsError(Exception):
    """Base class of everything this client raises."""


class NetworkError(PaymentsError):
    """No answer from the API after the retries (connection refused or reset, timeout). A POST may
    have been applied: retry it with the same ``idempotency_key`` to learn its outcome."""


class ApiError(PaymentsError):
    """The API answered with an error envelope."""

    code = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code or self.code}: {message}")
        self.code = code or self.code
        self.message = message
        self.status = status
        self.details = details or {}
        self.request_id = request_id


class InvalidAmount(ApiError):
    code = "PAY_001"


class InsufficientBalance(ApiError):
    code = "PAY_002"


class PaymentMethodNotFound(ApiError):
    code = "PAY_003"


class GatewayError(ApiError):
    """The gateway failed or could not be reached; its answer is unknown. Retrying with the same
    ``idempotency_key`` resumes the same operation (the client does so itself first)."""

    code = "PAY_004"


class LimitExceeded(ApiError):
    """``details["limit"]`` is ``single``, ``daily`` or ``monthly``; ``details["remaining"]``."""

    code = "PAY_005"


class SuspiciousActivity(ApiError):
    code = "PAY_006"


class GatewayRefused(ApiError):
    """The gateway said no to the request as made; the deposit or refund named in ``details`` is
    recorded FAILED and no money moved. Retrying unchanged gets the same no."""

    code = "GATEWAY_REFUSED"


class GatewayNotConfigured(ApiError):
    """The method's (or the requested) gateway has no credentials on this deployment."""

    code = "GATEWAY_NOT_CONFIGURED"


class PaymentDeclined(ApiError):
    code = "PAYMENT_DECLINED"


class InvalidSignature(ApiError):
    code = "INVALID_SIGNATURE"


class CardDataRefused(ApiError):
    code = "CARD_DATA_REFUSED"


class CurrencyMismatch(ApiError):
    code = "CURRENCY_MISMATCH"


class ValidationError(ApiError):
    """``details["field"]`` names the field."""

    code = "VALIDATION_ERROR"


class Unauthorized(ApiError):
    code = "UNAUTHORIZED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class NotFound(ApiError):
    code = "NOT_FOUND"


class RateLimited(ApiError):
    """Raised once the retries are spent; ``retry_after`` is the server's last ``Retry-After``."""

    code = "RATE_LIMITED"
    retry_after: float | None = None


class IdempotencyConflict(ApiError):
    code = "IDEMPOTENCY_CONFLICT"


class IdempotencyInProgress(ApiError):
    code = "IDEMPOTENCY_IN_PROGRESS"


class LedgerConflict(ApiError):
    code = "LEDGER_CONFLICT"


class AlreadyApplied(ApiError):
    code = "ALREADY_APPLIED"


class ConditionFailed(ApiError):
    code = "CONDITION_FAILED"


class ServiceBusy(ApiError):
    code = "SERVICE_BUSY"


class InternalError(ApiError):
    code = "INTERNAL_ERROR"


class PayloadTooLarge(ApiError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class BadRequest(ApiError):
    code = "BAD_REQUEST"


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    cls.code: cls
    for cls in (
        InvalidAmount,
        InsufficientBalance,
        PaymentMethodNotFound,
        GatewayError,
        LimitExceeded,
        SuspiciousActivity,
        GatewayRefused,
        GatewayNotConfigured,
        PaymentDeclined,
        InvalidSignature,
        CardDataRefused,
        CurrencyMismatch,
        ValidationError,
        Unauthorized,
        Forbidden,
        NotFound,
        RateLimited,
        IdempotencyConflict,
        IdempotencyInProgress,
        LedgerConflict,
        AlreadyApplied,
        ConditionFailed,
        ServiceBusy,
        InternalError,
        PayloadTooLarge,
        UnsupportedMediaType,
        BadRequest,
    )
}


def from_response(status: int, body: Any, request_id: str | None) -> ApiError:
    """The exception for an error answer (a body without the envelope is an InternalError)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return InternalError(f"HTTP {status} without an error envelope", status=status, request_id=request_id)
    code = str(error.get("code", "UNKNOWN"))
    cls = ERRORS_BY_CODE.get(code, ApiError)
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    return cls(str(error.get("message", "")), code=code, status=status, details=details, request_id=request_id)
