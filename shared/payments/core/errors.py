"""Domain errors. Each maps to one error code of the spec's Appendix A and one HTTP status.

Handlers never build error responses themselves: they raise these and the resolver built in
``payments.http.resolver`` renders the one envelope ``{"success": false, "error": {...}}``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class PaymentError(Exception):
    """Base class: a refusal the client can act on. Nothing was changed when it is raised."""

    code = "PAY_000"
    status = HTTPStatus.BAD_REQUEST
    default_message = "Payment error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"success": False, "error": error}


class InvalidAmount(PaymentError):
    code = "PAY_001"
    status = HTTPStatus.BAD_REQUEST
    default_message = "Invalid payment amount"


class InsufficientBalance(PaymentError):
    code = "PAY_002"
    status = HTTPStatus.PAYMENT_REQUIRED
    default_message = "Insufficient wallet balance"


class PaymentMethodNotFound(PaymentError):
    code = "PAY_003"
    status = HTTPStatus.NOT_FOUND
    default_message = "Payment method not found"


class GatewayError(PaymentError):
    """The gateway failed, timed out or was unavailable: its answer is unknown or not given, so the
    same request (same Idempotency-Key) may be retried."""

    code = "PAY_004"
    status = HTTPStatus.BAD_GATEWAY
    default_message = "Gateway processing error"


class GatewayRefused(PaymentError):
    """The gateway answered, and said no to the request as made (a declined or unknown token, an
    amount it will not take, a refund it will not make): retrying it will not change the answer.
    What was recorded for it is FAILED, and no money moved."""

    code = "GATEWAY_REFUSED"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    default_message = "The payment gateway refused the request"


class GatewayNotConfigured(PaymentError):
    """The client asked for a gateway this deployment has no credentials for (or the Mock on a
    stack without it): refused, never replaced by another gateway."""

    code = "GATEWAY_NOT_CONFIGURED"
    status = HTTPStatus.BAD_REQUEST
    default_message = "This gateway is not configured on this deployment"


class CurrencyMismatch(PaymentError):
    """A wallet holds one currency; a movement in another is refused inside the ledger write."""

    code = "CURRENCY_MISMATCH"
    status = HTTPStatus.BAD_REQUEST
    default_message = "This wallet holds another currency"


class LimitExceeded(PaymentError):
    code = "PAY_005"
    status = HTTPStatus.FORBIDDEN
    default_message = "Transaction limit exceeded"


class SuspiciousActivity(PaymentError):
    code = "PAY_006"
    status = HTTPStatus.FORBIDDEN
    default_message = "Suspicious activity detected"


class NotFound(PaymentError):
    code = "NOT_FOUND"
    status = HTTPStatus.NOT_FOUND
    default_message = "Resource not found"


class Forbidden(PaymentError):
    code = "FORBIDDEN"
    status = HTTPStatus.FORBIDDEN
    default_message = "Not allowed"


class Unauthorized(PaymentError):
    code = "UNAUTHORIZED"
    status = HTTPStatus.UNAUTHORIZED
    default_message = "Missing or invalid bearer token"  # what API Gateway answers (template)


class InvalidRequest(PaymentError):
    code = "VALIDATION_ERROR"
    status = HTTPStatus.BAD_REQUEST
    default_message = "Invalid request"


class LedgerConflict(PaymentError):
    """A ledger operation could not be applied: the transaction is no longer in the expected state,
    or the locked funds it refers to are not there. Never a client mistake to retry blindly."""

    code = "LEDGER_CONFLICT"
    status = HTTPStatus.CONFLICT
    default_message = "The transaction is not in a state that allows this operation"


class ServiceBusy(PaymentError):
    """Contention on one wallet outlasted the bounded retry; safe for the client to retry."""

    code = "SERVICE_BUSY"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    default_message = "The wallet is busy, retry shortly"


class UnprocessableRequest(PaymentError):
    """Input of the wrong type or out of range; ``details`` lists each field and its problem."""

    code = "VALIDATION_ERROR"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    default_message = "Invalid request"
