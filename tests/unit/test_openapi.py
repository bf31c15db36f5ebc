"""docs/openapi.json is what the code generates (``make openapi``), covers every route of the
template and nothing else, and is a valid OpenAPI 3.1 document."""

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from local import openapi, template


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.generate()


def test_the_committed_document_is_what_the_code_generates(document: dict[str, Any]) -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    assert committed == document, "docs/openapi.json is stale: run `make openapi` and commit it"
    assert openapi.DOCUMENT.read_text() == openapi.render()


def test_every_route_of_the_template_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    routes = {
        (route.method.lower(), route.path)
        for route in template.api_routes(template.load_template())
        if route.method not in openapi.UNDOCUMENTED_METHODS
    }
    documented = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert documented == routes
    assert set(openapi.OPERATIONS) == {(method.upper(), path) for method, path in routes}


def test_it_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_public_routes_need_no_token_and_the_others_a_bearer_jwt(document: dict[str, Any]) -> None:
    public = {
        path for path, operations in document["paths"].items() for op in operations.values() if op["security"] == []
    }
    assert public == {
        "/health",
        "/webhooks/razorpay",
        "/webhooks/stripe",
        "/webhooks/mock",
        "/mock-gateway/checkout/{order_id}",
        "/mock-gateway/checkout/{order_id}/pay",
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path not in public:
                assert operation["security"] == [{"bearerAuth": []}]
                assert operation["responses"]["401"]["content"]["application/json"]["examples"]


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method]


def _codes(operation: dict[str, Any], status: int) -> set[str]:
    examples = operation["responses"][str(status)]["content"]["application/json"]["examples"]
    return {example["value"]["error"]["code"] for example in examples.values()}


def test_what_the_code_says_is_what_the_document_says(document: dict[str, Any]) -> None:
    """Read from the handlers, not restated: bodies, query bounds, idempotency, success status."""
    initiate = _operation(document, "post", "/api/v1/payments/deposits/initiate")
    assert initiate["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DepositInitiateRequest"
    }
    assert {"$ref": "#/components/parameters/Idempotency-Key"} in initiate["parameters"]
    assert "Idempotent-Replayed" in initiate["responses"]["200"]["headers"]
    assert _codes(initiate, 422) >= {"GATEWAY_REFUSED", "VALIDATION_ERROR"}
    assert _codes(initiate, 502) == {"PAY_004"}
    assert _codes(initiate, 403) == {"PAY_005", "PAY_006"}
    assert _codes(initiate, 400) >= {"PAY_001", "GATEWAY_NOT_CONFIGURED", "CARD_DATA_REFUSED"}
    assert "Retry-After" in initiate["responses"]["429"]["headers"]
    withdraw = _operation(document, "post", "/api/v1/payments/withdrawals/initiate")
    assert "202" in withdraw["responses"]
    assert _codes(withdraw, 402) == {"PAY_002"}
    history = _operation(document, "get", "/api/v1/payments/wallet/transactions")
    limit = next(p for p in history["parameters"] if p.get("name") == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    schemas = document["components"]["schemas"]
    assert set(schemas["Balance"]["required"]) >= {"balance", "locked_balance", "available_balance"}
    assert schemas["DepositInitiateRequest"]["additionalProperties"] is False
    stripe = _operation(document, "post", "/webhooks/stripe")
    assert {"name": "Stripe-Signature", "in": "header", "required": True}.items() <= stripe["parameters"][0].items()
    assert _codes(stripe, 400) == {"WEBHOOK_REFUSED", "VALIDATION_ERROR"}  # a body that is not UTF-8 text


def test_an_operation_the_code_has_but_the_table_lacks_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(openapi.OPERATIONS, ("GET", "/api/v1/payments/wallet/balance"))
    with pytest.raises(ValueError, match="has no entry"):
        openapi.generate()


def test_an_unknown_error_name_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    key = ("GET", "/api/v1/payments/methods")
    monkeypatch.setitem(openapi.OPERATIONS, key, openapi.Doc("x", "methods", errors=("NoSuchError",)))
    with pytest.raises(ValueError, match="NoSuchError"):
        openapi.generate()


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "problem"),
    [
        ("GET", "/api/v1/payments/wallet/balance", 200, {"balance": "1.00"}, "does not describe"),
        ("GET", "/api/v1/payments/wallet/balance", 418, {}, "does not list"),
        (
            "POST",
            "/api/v1/payments/refunds",
            400,
            {"success": False, "error": {"code": "PAY_002", "message": "x"}},
            "not one of",
        ),
    ],
)
def test_the_suite_wide_contract_check_refuses_what_the_document_does_not_say(
    method: str, path: str, status: int, body: Any, problem: str
) -> None:
    """Every in-process reply in the suite goes through this check (tests/support/api.py)."""
    from tests.support import contract

    with pytest.raises(AssertionError, match=problem):
        contract.check(method, path, status, body)
    refused = {"success": False, "error": {"code": "GATEWAY_REFUSED", "message": "no"}}
    contract.check("POST", "/api/v1/payments/refunds", 422, refused)
