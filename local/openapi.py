"""The API's OpenAPI 3.1 document, generated from the code: ``make openapi`` writes
``docs/openapi.json``; ``tests/unit/test_openapi.py`` fails when the committed one differs.

What an operation takes and answers is read from the code, not restated here:
- the operations: every ``Api`` event of ``template.yaml`` (method, path, public or behind the JWT
  authorizer);
- the request body: the pydantic model the handler passes to ``parse_body``;
- the query parameters: the handler's ``query_int`` / ``query_enum`` / ``query_str`` calls, with
  their bounds, defaults and enum values;
- the success status and ``Idempotency-Key`` support: ``respond_once`` and its ``success_status``;
- the response body: the ``TypedDict`` the handler's (or its ``respond_once`` operation's) return
  annotation names;
- each error: its class's code, HTTP status and default message.

What code cannot say is in :data:`OPERATIONS`: a summary, the error classes an operation can
raise beyond the ones every operation of its kind can, and the spec's examples. Runtime request
validation stays off (cold start; ``docs/decisions.md``): the document is generated offline.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import json
import sys
import textwrap
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

from local import template

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"
#: Routes that are not operations a client calls: the CORS preflight is answered for the browser.
UNDOCUMENTED_METHODS = ("OPTIONS",)


@dataclass(frozen=True)
class Doc:
    """What the code cannot say about one operation."""

    summary: str
    tag: str
    errors: tuple[str, ...] = ()  # error class names (payments.*.errors) this operation raises
    request_example: dict[str, Any] | None = None
    response_example: dict[str, Any] | None = None
    response: str | None = None  # a view TypedDict "module.Name", where the handler has no route
    description: str | None = None
    signature_header: str | None = None  # webhooks: the header that authenticates them
    content_type: str = "application/json"
    also_answers: tuple[int, ...] = ()  # other statuses answered with the success body


_WEBHOOK_ERRORS = (
    "WebhookRefused",
    "SourceNotAllowed",
    "WebhookNotMatched",
    "RateLimited",
    "ServiceBusy",
    "GatewayError",
    # The body is read as the text the gateway signed (request_text): one that is not UTF-8 is 400.
    "InvalidRequest",
)


def _webhook(summary: str, signature_header: str) -> Doc:
    return Doc(
        summary,
        "webhooks",
        _WEBHOOK_ERRORS,
        response="webhooks.WebhookReceivedBody",
        signature_header=signature_header,
    )


_AMOUNT_ERRORS = ("InvalidAmount", "CurrencyMismatch")
_MONEY_ERRORS = (*_AMOUNT_ERRORS, "LimitExceeded", "SuspiciousActivity", "PaymentMethodNotFound", "CardDataRefused")

OPERATIONS: dict[tuple[str, str], Doc] = {
    ("GET", "/health"): Doc(
        "Health of the stack: database and each configured gateway (no live gateway call)",
        "health",
        response="health.HealthBody",
        also_answers=(HTTPStatus.SERVICE_UNAVAILABLE,),
        description="`status` is `degraded` while a gateway's circuit is open, and `unhealthy` "
        "(HTTP 503, same body) when the database cannot be read.",
    ),
    ("GET", "/api/v1/payments/wallet/balance"): Doc(
        "The caller's balance, locked and available amounts, and KYC limits with what is used of them",
        "wallet",
        response_example={
            "balance": "1500.00",
            "locked_balance": "200.00",
            "available_balance": "1300.00",
            "currency": "INR",
            "daily_limit": "10000.00",
            "daily_used": "500.00",
            "daily_remaining": "9500.00",
            "monthly_limit": "100000.00",
            "monthly_used": "1500.00",
            "monthly_remaining": "98500.00",
        },
    ),
    ("GET", "/api/v1/payments/wallet/transactions"): Doc(
        "The caller's transactions, newest first; page by `skip` or by `cursor`",
        "wallet",
        response_example={
            "transactions": [
                {
                    "id": "txn_123",
                    "amount": "500.00",
                    "fee": "0.00",
                    "currency": "INR",
                    "type": "DEPOSIT",
                    "status": "COMPLETED",
                    "description": "Wallet top-up",
                    "reference_id": None,
                    "failure_reason": None,
                    "created_at": "2024-01-15T10:30:00Z",
                    "completed_at": "2024-01-15T10:30:15Z",
                }
            ],
            "total": 1,
            "has_more": False,
            "next_cursor": None,
        },
    ),
    ("POST", "/api/v1/payments/deposits/initiate"): Doc(
        "Start a deposit: a PENDING transaction and an order at the gateway for the client to pay",
        "deposits",
        errors=(*_MONEY_ERRORS, "GatewayNotConfigured", "GatewayRefused", "GatewayError"),
        request_example={
            "amount": "1000.00",
            "payment_method_id": "pm_abc123",
            "gateway": "razorpay",
            "description": "Wallet top-up",
        },
        response_example={
            "success": True,
            "transaction_id": "txn_def456",
            "order_id": "order_razorpay_789",
            "amount": "1000.00",
            "currency": "INR",
            "checkout_url": "https://checkout.razorpay.com/v1/checkout.js",
            "key": "rzp_test_key",
            "gateway": "RAZORPAY",
        },
    ),
    ("POST", "/api/v1/payments/deposits/confirm"): Doc(
        "Confirm a paid deposit with the gateway's signed answer; it is credited once",
        "deposits",
        errors=("NotFound", "SignatureRejected", "PaymentDeclined", "GatewayError", "LedgerConflict"),
        request_example={
            "transaction_id": "txn_def456",
            "gateway_payment_id": "pay_razorpay_123",
            "gateway_data": {"razorpay_order_id": "order_razorpay_789", "razorpay_signature": "signature_hash"},
        },
    ),
    ("POST", "/api/v1/payments/withdrawals/initiate"): Doc(
        "Withdraw to a stored bank account or UPI method: the amount is locked and the payout runs",
        "withdrawals",
        errors=(*_MONEY_ERRORS, "InsufficientBalance", "GatewayNotConfigured"),
        request_example={"amount": "500.00", "payment_method_id": "pm_abc123", "description": "Cash withdrawal"},
    ),
    ("GET", "/api/v1/payments/withdrawals/{withdrawal_id}/status"): Doc(
        "Where one of the caller's withdrawals stands", "withdrawals", errors=("NotFound",)
    ),
    ("POST", "/api/v1/payments/refunds"): Doc(
        "Refund (part of) one of the caller's completed deposits to where it was paid from",
        "refunds",
        errors=("NotFound", "InvalidAmount", "InsufficientBalance", "GatewayRefused", "GatewayError"),
        request_example={"transaction_id": "txn_def456", "amount": "400.00", "reason": "requested"},
    ),
    ("POST", "/api/v1/payments/methods"): Doc(
        "Store a payment method: the gateway's token only, never a card number or CVV",
        "methods",
        errors=("CardDataRefused", "GatewayNotConfigured"),
        request_example={
            "type": "CARD",
            "gateway": "razorpay",
            "token": "card_token_from_gateway",
            "metadata": {"last_four": "1234", "brand": "VISA", "expiry_month": 12, "expiry_year": 2030},
        },
    ),
    ("GET", "/api/v1/payments/methods"): Doc("The caller's stored payment methods, masked", "methods"),
    ("DELETE", "/api/v1/payments/methods/{method_id}"): Doc(
        "Remove one of the caller's payment methods", "methods", errors=("PaymentMethodNotFound",)
    ),
    ("PUT", "/api/v1/payments/admin/users/{user_id}/kyc"): Doc(
        "Admin: set a user's KYC level (their limits follow)", "admin", errors=("Forbidden",)
    ),
    ("POST", "/api/v1/payments/admin/withdrawals/{withdrawal_id}/{decision}"): Doc(
        "Admin: approve or reject a withdrawal waiting for review (`decision` is `approve` or `reject`)",
        "admin",
        errors=("Forbidden", "NotFound", "LedgerConflict"),
    ),
    ("GET", "/mock-gateway/checkout/{order_id}"): Doc(
        "The Mock gateway's checkout page for an order (stacks with the Mock only)",
        "mock gateway",
        errors=("NotFound",),
        content_type="text/html",
    ),
    ("POST", "/mock-gateway/checkout/{order_id}/pay"): Doc(
        "Pay or decline a Mock order, as the checkout page does (stacks with the Mock only)",
        "mock gateway",
        errors=("NotFound",),
        request_example={"action": "pay"},
    ),
    ("POST", "/webhooks/razorpay"): _webhook(
        "Razorpay events (payment, refund, payout, dispute); register this URL in the Razorpay dashboard",
        "X-Razorpay-Signature",
    ),
    ("POST", "/webhooks/stripe"): _webhook(
        "Stripe events (payment intents, charges, refunds, payouts, disputes); register this URL in Stripe",
        "Stripe-Signature",
    ),
    ("POST", "/webhooks/mock"): _webhook(
        "Mock gateway events, signed like Razorpay's (stacks with the Mock only)", "X-Mock-Signature"
    ),
}


# --------------------------------------------------------------------------- reading the handlers
@dataclass
class Handler:
    """What one route's handler source says about the operation."""

    body_model: Any = None
    query: list[dict[str, Any]] = field(default_factory=list)
    response_type: Any = None
    idempotent: bool = False
    success_status: int = HTTPStatus.OK


def _route_function(module: ModuleType, method: str, path: str) -> Any:
    """The function the module's resolver routes ``method path`` to (None: no resolver route)."""
    app = getattr(module, "app", None)
    rule = path.replace("{", "<").replace("}", ">")
    for route in (getattr(app, "_static_routes", []) or []) + (getattr(app, "_dynamic_routes", []) or []):
        if route.path == rule and route.method == method:
            return route.func
    return None


def _value(node: ast.expr, namespace: dict[str, Any]) -> Any:
    return eval(compile(ast.Expression(node), "<openapi>", "eval"), namespace)  # noqa: S307 - our own source


def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def read_handler(module: ModuleType, function: Any) -> Handler:
    namespace = vars(module)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    route = tree.body[0]
    assert isinstance(route, ast.FunctionDef)
    nested = {node.name: node for node in ast.walk(route) if isinstance(node, ast.FunctionDef)}
    found = Handler()
    returning: ast.FunctionDef = route
    for node in ast.walk(route):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name not in ("parse_body", "respond_once", "query_int", "query_enum", "query_str"):
            continue
        keywords = {keyword.arg: _value(keyword.value, namespace) for keyword in node.keywords if keyword.arg}
        if name == "parse_body":
            found.body_model = _value(node.args[1], namespace)
        elif name == "respond_once":
            found.idempotent = True
            found.success_status = int(keywords.get("success_status", HTTPStatus.OK))
            operation = node.args[2]
            if isinstance(operation, ast.Name) and operation.id in nested:
                returning = nested[operation.id]
        elif name in ("query_int", "query_enum", "query_str"):
            found.query.append(_query_parameter(name, node, keywords, namespace))
    if returning.returns is not None:
        found.response_type = _value(returning.returns, namespace)
    return found


def _query_parameter(kind: str, node: ast.Call, keywords: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    name = _value(node.args[1], namespace)
    schema: dict[str, Any]
    if kind == "query_int":
        schema = {"type": "integer", "minimum": keywords["minimum"], "maximum": keywords["maximum"]}
        schema["default"] = keywords["default"]
    elif kind == "query_enum":
        schema = {"type": "string", "enum": [member.value for member in _value(node.args[2], namespace)]}
    else:
        schema = {"type": "string", "maxLength": keywords["max_length"]}
    return {"name": name, "in": "query", "required": False, "schema": schema}


# --------------------------------------------------------------------------- schemas
class Components:
    """Named schemas. Request models are ``<Name>Request``; response TypedDicts drop ``Body``."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def add(self, kind: str, source: Any) -> dict[str, str]:
        from pydantic import BaseModel, TypeAdapter

        if isinstance(source, type) and issubclass(source, BaseModel):
            schema = source.model_json_schema(ref_template=REF, mode="validation")
        else:
            schema = TypeAdapter(source).json_schema(ref_template=REF, mode="serialization")
        defs = schema.pop("$defs", {})
        names = {name: self._name(kind, name) for name in [*defs, source.__name__]}
        for name, definition in defs.items():
            self._put(names[name], _renamed(definition, names))
        root = names[source.__name__]
        self._put(root, _renamed(schema, names))
        return {"$ref": REF.format(model=root)}

    def _name(self, kind: str, name: str) -> str:
        if name.endswith("Body"):
            return name.removesuffix("Body") + ("Request" if kind == "request" else "")
        return name

    def _put(self, name: str, schema: dict[str, Any]) -> None:
        schema.pop("title", None)
        existing = self.schemas.setdefault(name, schema)
        if existing != schema:
            raise ValueError(f"two different schemas are both named {name}")


def _renamed(schema: Any, names: dict[str, str]) -> Any:
    if isinstance(schema, dict):
        out = {key: _renamed(value, names) for key, value in schema.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            old = ref.rsplit("/", 1)[1]
            out["$ref"] = REF.format(model=names.get(old, old))
        return out
    if isinstance(schema, list):
        return [_renamed(value, names) for value in schema]
    return schema


# --------------------------------------------------------------------------- errors
def error_classes() -> dict[str, type]:
    """Every client-visible error class of the layer, by class name."""
    import pkgutil

    import payments
    from payments.core.errors import PaymentError

    for module in pkgutil.walk_packages(payments.__path__, "payments."):
        if module.name.endswith(".errors"):
            importlib.import_module(module.name)
    found: dict[str, type] = {}
    pending = [PaymentError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


def _errors_for(route: template.Route, doc: Doc, handler: Handler) -> list[type]:
    classes = error_classes()
    names = list(doc.errors)
    if route.authorizer:
        names = ["Unauthorized", "RateLimited", *names]
    if handler.body_model is not None or handler.query:
        names += ["InvalidRequest", "UnprocessableRequest"]
    if handler.body_model is not None:  # every body is searched for card data (parse_body)
        names.append("CardDataRefused")
    if handler.idempotent:
        names += ["IdempotencyConflict", "IdempotencyInProgress"]
    if route.path.startswith("/api/v1/payments/") and route.method != "GET":
        names.append("ServiceBusy")
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise ValueError(f"{route.method} {route.path}: no error class named {unknown}")
    return [classes[name] for name in dict.fromkeys(names)]


def _error_responses(errors: list[type]) -> dict[str, Any]:
    by_status: dict[int, list[type]] = {}
    for cls in errors:
        by_status.setdefault(int(cls.status), []).append(cls)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        classes = by_status[status]
        codes = ", ".join(f"`{cls.code}`" for cls in classes)
        content: dict[str, Any] = {
            "schema": {"$ref": REF.format(model="Error")},
            "examples": {
                cls.__name__: {
                    "summary": cls.code,
                    "value": {"success": False, "error": {"code": cls.code, "message": cls.default_message}},
                }
                for cls in classes
            },
        }
        response: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase}: {codes}",
            "content": {"application/json": content},
        }
        if status in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
            response["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
        responses[str(status)] = response
    responses["default"] = {
        "description": "API Gateway's own answer (a function failed or timed out: `INTERNAL_ERROR`, with the "
        "request id), or a request it refused before any function ran (`PAYLOAD_TOO_LARGE`, "
        "`UNSUPPORTED_MEDIA_TYPE`, `BAD_REQUEST`)",
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
    return responses


# --------------------------------------------------------------------------- the document
def _operation_id(route: template.Route) -> str:
    words = [part for part in route.path.split("/") if part and not part.startswith("{")]
    words = [word for word in words if word not in ("api", "v1", "payments")]
    return route.method.lower() + "".join(word.replace("-", " ").title().replace(" ", "") for word in words)


def _resolve_view(reference: str) -> Any:
    module_name, _, name = reference.partition(".")
    return getattr(importlib.import_module(f"payments.http.views.{module_name}"), name)


def _operation(route: template.Route, spec: template.FunctionSpec, components: Components) -> dict[str, Any]:
    key = (route.method, route.path)
    if key not in OPERATIONS:
        raise ValueError(f"{route.method} {route.path} ({route.function}) has no entry in local/openapi.OPERATIONS")
    doc = OPERATIONS[key]
    module = template.load_handler_module(spec, f"openapi_{spec.logical_id}")
    function = _route_function(module, route.method, route.path)
    handler = read_handler(module, function) if function is not None else Handler()
    response_type = _resolve_view(doc.response) if doc.response else handler.response_type
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": doc.summary,
        "tags": [doc.tag],
    }
    if doc.description:
        operation["description"] = doc.description
    parameters: list[dict[str, Any]] = [
        {"name": name.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.path.split("/")
        if name.startswith("{")
    ]
    parameters += handler.query
    if handler.idempotent:
        parameters.append({"$ref": "#/components/parameters/Idempotency-Key"})
    if doc.signature_header:
        parameters.append(
            {
                "name": doc.signature_header,
                "in": "header",
                "required": True,
                "description": "The gateway's signature of the raw body; verified before anything else",
                "schema": {"type": "string"},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if handler.body_model is not None or doc.signature_header or doc.request_example:
        schema = (
            components.add("request", handler.body_model)
            if handler.body_model is not None
            else {"type": "object", "description": "The gateway's event, as it signed it"}
        )
        media: dict[str, Any] = {"schema": schema}
        if doc.request_example:
            media["example"] = doc.request_example
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    success: dict[str, Any] = {"description": HTTPStatus(handler.success_status).phrase}
    if doc.content_type == "text/html":
        success["content"] = {"text/html": {"schema": {"type": "string"}}}
    elif response_type is not None:
        media = {"schema": components.add("response", response_type)}
        if doc.response_example:
            media["example"] = doc.response_example
        success["content"] = {"application/json": media}
    else:
        raise ValueError(f"{route.method} {route.path}: no response type (annotate the handler with its view)")
    if handler.idempotent:
        success["headers"] = {"Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}}
    operation["responses"] = {
        str(handler.success_status): success,
        **{str(int(status)): {**success, "description": HTTPStatus(status).phrase} for status in doc.also_answers},
        **_error_responses(_errors_for(route, doc, handler)),
    }
    operation["security"] = [{"bearerAuth": []}] if route.authorizer else []
    return operation


def generate() -> dict[str, Any]:
    sam = template.load_template()
    specs = template.functions(sam)
    components = Components()
    components.schemas["Error"] = _error_schema()
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(template.api_routes(sam), key=lambda r: (r.path, r.method)):
        if route.method in UNDOCUMENTED_METHODS:
            continue
        operation = _operation(route, specs[route.function], components)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Serverless wallet and payments API",
            "version": _version(),
            "description": "Wallets, deposits (Razorpay, Stripe, Mock), withdrawals, refunds and stored "
            'payment methods. Amounts are decimal strings with two places (`"1500.00"`); every '
            'error has the envelope `{"success": false, "error": {"code", "message", '
            '"details"}}`. Generated from the code by `make openapi`.',
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "`make run`"}],
        "tags": [{"name": name} for name in dict.fromkeys(doc.tag for doc in OPERATIONS.values())],
        "paths": paths,
        "webhooks": _domain_event_webhooks(components),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "HS256 JWT: `sub` (user id), `kyc_level`, `roles` (`admin`), `exp`",
                }
            },
            "parameters": {
                "Idempotency-Key": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "1-255 characters. The same key with the same body answers the first "
                    "response again (`Idempotent-Replayed: true`) and never moves money twice; with "
                    "another body it is 409 `IDEMPOTENCY_CONFLICT`. Kept 24 hours.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            },
            "headers": {
                "Idempotent-Replayed": {
                    "description": "`true` when this is the stored answer of an earlier request with the same key",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
            "schemas": dict(sorted(components.schemas.items())),
        },
    }


def _domain_event_webhooks(components: Components) -> dict[str, Any]:
    """The domain events the stack POSTs to the user's endpoint (``EventsEndpointUrl``), as OpenAPI
    webhooks: the bodies are docs/events/ (local/event_schemas.py), named ``<Type>Event``."""
    from local import event_schemas

    found = {}
    for filename, schema in event_schemas.schemas().items():
        event_type = filename.removesuffix(".json")
        name = "".join(part.capitalize() for part in event_type.split(".")) + "Event"
        schema = {key: value for key, value in schema.items() if key not in ("$schema", "$id", "title")}
        for data_name, definition in schema.pop("$defs").items():
            components.schemas[f"{name}Data"] = {key: value for key, value in definition.items() if key != "title"}
            schema = json.loads(
                json.dumps(schema).replace(f'"#/$defs/{data_name}"', f'"{REF.format(model=name + "Data")}"')
            )
        components.schemas[name] = schema
        found[event_type] = {
            "post": {
                "summary": f"{event_type} (domain event, sent to EventsEndpointUrl)",
                "description": "Sent by the stack's EventBridge API destination, at least once: dedupe by `id` "
                "(docs/events/README.md). Answer 2xx; anything else is sent again for 24 hours.",
                "tags": ["domain events"],
                "parameters": [
                    {
                        "name": "x-api-key",
                        "in": "header",
                        "required": True,
                        "description": "The stack's generated key (output `EventsEndpointKeySecretArn`; the header "
                        "name is the `EventsEndpointApiKeyName` parameter): refuse a request without it",
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF.format(model=name)}}},
                },
                "responses": {
                    "2XX": {"description": "Taken: it is not sent again"},
                    "default": {"description": "Not taken: EventBridge sends it again, then to the dead-letter queue"},
                },
            }
        }
    return found


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error"],
        "properties": {
            "success": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "See the error table in the README"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            },
        },
    }


def _version() -> str:
    from payments import __version__

    return __version__


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not what the code gives")
    args = parser.parse_args(argv)
    if str(REPO_ROOT / "shared") not in sys.path:  # the layer, as the Makefile's PYTHONPATH gives it
        sys.path.insert(0, str(REPO_ROOT / "shared"))
    text = render()
    if args.check:
        if DOCUMENT.read_text() != text:
            print("docs/openapi.json differs from the code: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
