"""The REST resolver every API function uses: one error envelope, registered once.

Every failure a client can see is ``{"success": false, "error": {"code", "message", ...}}`` with
the HTTP status of its code; validation problems are 422 naming the field, never 500.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from payments.auth import Caller
from payments.errors import PaymentError
from payments.observability import logger


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"success": False, "error": error},
    )


def create_resolver() -> APIGatewayRestResolver:
    """A resolver with pydantic validation and the project's exception handlers."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(PaymentError)
    def _payment_error(exc: PaymentError) -> Response:
        logger.info("request refused", extra={"error_code": exc.code, "status": int(exc.status)})
        return error_response(exc.status, exc.code, exc.message, exc.details or None)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        problems = [
            {
                "field": ".".join(str(part) for part in err["loc"][1:]) or str(err["loc"][0]),
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", message, problems)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such route")

    return app


def current_caller(app: APIGatewayRestResolver) -> Caller:
    """The caller the Lambda authorizer vouched for. Never taken from the body or the path."""
    return Caller.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)
