"""The REST resolver every API function uses: one error envelope, registered once.

Every failure a client can see is ``{"success": false, "error": {"code", "message", ...}}`` with
the HTTP status of its code; input problems are 422 naming the field, never 500.

Powertools' ``enable_validation`` is deliberately off: building its OpenAPI models costs about
60 ms on every cold start (``make bench``), more than a third of a handler's budget. Query strings
are checked by the small typed readers below; request bodies by pydantic models directly
(:func:`parse_body`), which gives the same 422 envelope. See docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from payments.core.acting import acting_as
from payments.core.caller import Caller
from payments.core.clock import Deadline
from payments.core.errors import InvalidRequest, LimitExceeded, PaymentError, UnprocessableRequest
from payments.http import cors
from payments.platform.observability import logger, metrics
from payments.platform.settings import settings

E = TypeVar("E", bound=Enum)


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
    """A resolver with the project's exception handlers and CORS (``CORS_ALLOWED_ORIGINS``)."""
    app = APIGatewayRestResolver(cors=cors.config())

    @app.exception_handler(PaymentError)
    def _payment_error(exc: PaymentError) -> Response:
        logger.info("request refused", extra={"error_code": exc.code, "status": int(exc.status)})
        if exc.code == LimitExceeded.code:
            _audit_refusal(app, exc)
        response = error_response(exc.status, exc.code, exc.message, exc.details or None)
        response.headers.update(getattr(exc, "headers", {}))
        return response

    app.use(middlewares=[_rate_limit])

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such route")

    return app


def _audit_refusal(app: APIGatewayRestResolver, exc: PaymentError) -> None:
    """A KYC limit refusal is audited (the spec's limits are a compliance control): the route, the
    limit and what remained; the request body is not recorded."""
    from pynamodb.exceptions import PynamoDBException

    from payments.audit import records

    details = {"route": app.current_event.resource, **{k: v for k, v in (exc.details or {}).items() if k != "field"}}
    try:
        with _acting_caller(app) as caller:
            records.record_event("limit_refused", caller.user_id, status=exc.code, details=details)
    except PynamoDBException:  # the refusal stands; a lost record of it is logged and counted
        logger.exception("audit record of a limit refusal not written")
        metrics.add_metric(name="AuditWriteFailed", unit="Count", value=1)


def request_text(event: Any) -> str:
    """The request body as text: API Gateway sends a body that is not text base64-encoded
    (``isBase64Encoded``); a body that is not UTF-8 is refused with 400, never a 500."""
    body = event.body or ""
    if not event.is_base64_encoded:
        return body
    import base64
    import binascii

    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("The body must be UTF-8 text") from None


def public_base_url(app: APIGatewayRestResolver) -> str:
    """The API's own base URL as the client called it (``https://<id>.execute-api.../dev``, a
    custom domain with its base path, or the local stack), unless ``PUBLIC_API_URL`` says so."""
    configured = settings.public_api_url
    if configured:
        return configured.rstrip("/")
    event = app.current_event
    context = event.request_context
    scheme = event.headers.get("X-Forwarded-Proto") or "https"
    full_path = context.path or event.path
    base_path = full_path[: len(full_path) - len(event.path)] if full_path.endswith(event.path) else ""
    return f"{scheme}://{context.domain_name}{base_path}"


def respond_once(
    app: APIGatewayRestResolver,
    endpoint: str,
    handler: Callable[[str | None], Mapping[str, Any]],
    success_status: int = HTTPStatus.OK,
) -> Response:
    """Run a POST handler under the client's ``Idempotency-Key`` (if it sent one): a retry gets
    the first response with ``Idempotent-Replayed: true``; the same key with another body is 409.
    The handler gets the operation id the key stands for (None without a key): a run after a
    failed or dead one resumes that operation instead of starting a second."""
    key = app.current_event.headers.get("Idempotency-Key")
    if not key:
        return Response(success_status, content_types.APPLICATION_JSON, handler(None))
    from payments.http import idempotency

    first_call = []

    def run(operation_id: str) -> idempotency.StoredResponse:
        first_call.append(True)
        return idempotency.StoredResponse(success_status, handler(operation_id))

    caller = current_caller(app)
    stored = idempotency.run_once(caller.user_id, endpoint, key, request_text(app.current_event), run)
    headers = {"Idempotent-Replayed": "false" if first_call else "true"}
    return Response(stored.status_code, content_types.APPLICATION_JSON, stored.body, headers=headers)


def deadline(app: APIGatewayRestResolver) -> Deadline:
    """What is left of this invocation, for sizing gateway calls."""
    return Deadline.from_context(app.lambda_context)


def _rate_limit(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Count an authenticated request before its route runs (one conditional write); 429 refuses
    it whole. Webhooks are counted after their signature verifies (payments.flows.webhooks); other
    public routes are not limited per caller. The caller is the actor of what the request audits."""
    from payments.guards import rate_limits as ratelimit

    context = app.current_event.request_context.authorizer.raw_event or {}
    if not context.get("user_id"):
        return next_middleware(app)
    with _acting_caller(app) as caller:
        ratelimit.hit(caller.user_id, app.current_event.resource)
        return next_middleware(app)


@contextmanager
def _acting_caller(app: APIGatewayRestResolver) -> Iterator[Caller]:
    """The caller is the actor of everything the request audits, from its address."""
    caller = current_caller(app)
    who = f"{'admin' if caller.is_admin else 'user'}:{caller.user_id}"
    with acting_as(who, app.current_event.request_context.identity.source_ip):
        yield caller


def current_caller(app: APIGatewayRestResolver) -> Caller:
    """The caller the Lambda authorizer vouched for. Never taken from the body or the path."""
    return Caller.from_authorizer_context(app.current_event.request_context.authorizer.raw_event)


def _invalid(field: str, message: str) -> UnprocessableRequest:
    return UnprocessableRequest(f"{field} {message}", field=field)


def query_int(app: APIGatewayRestResolver, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "must be a whole number") from None
    if not minimum <= value <= maximum:
        raise _invalid(name, f"must be between {minimum} and {maximum}")
    return value


def query_enum(app: APIGatewayRestResolver, name: str, enum: type[E]) -> E | None:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return None
    try:
        return enum(raw.upper())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise _invalid(name, f"must be one of {allowed}") from None


def query_str(app: APIGatewayRestResolver, name: str, max_length: int) -> str | None:
    raw = app.current_event.get_query_string_value(name)
    if raw is not None and len(raw) > max_length:
        raise _invalid(name, f"must be at most {max_length} characters")
    return raw or None
