"""The API over HTTP on the local stack, the way a web or mobile client calls it."""

from datetime import timedelta
from typing import Any

import jwt
import pytest
import requests
from pynamodb.connection import Connection

from payments.core.caller import KycLevel
from payments.http.auth import issue_token
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from tests.support.fixtures import WEB_ORIGIN, LocalStack, make_token

API = "/api/v1/payments"
BALANCE = f"{API}/wallet/balance"
TRANSACTIONS = "/api/v1/payments/wallet/transactions"


def _get(stack: LocalStack, path: str, token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{stack.api}{path}", headers=headers, params=params, timeout=30)


def test_health_needs_no_token(local_stack: LocalStack) -> None:
    response = _get(local_stack, "/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["gateways"]["mock"]["circuit"] == "closed"


def test_health_is_degraded_after_the_gateway_circuit_opens(local_stack: LocalStack, user_id: str) -> None:
    """Three deposits whose Mock order creation times out (tok_mock_timeout: the gateway is
    down) open its circuit; /health then says degraded until the circuit closes again."""
    token = make_token(user_id)
    headers = {"Authorization": f"Bearer {token}"}
    method = {"type": "CARD", "gateway": "mock", "token": "tok_mock_timeout", "metadata": {"last_four": "4242"}}
    try:
        for n in range(3):
            added = requests.post(f"{local_stack.api}{API}/methods", json=method, headers=headers, timeout=30)
            body = {"amount": f"{10 + n}.00", "payment_method_id": added.json()["payment_method"]["id"]}
            failed = requests.post(f"{local_stack.api}{API}/deposits/initiate", json=body, headers=headers, timeout=30)
            assert (failed.status_code, failed.json()["error"]["code"]) == (502, "PAY_004")
        health = _get(local_stack, "/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["gateways"]["mock"]["circuit"] == "open"
        assert health.json()["gateways"]["mock"]["last_failure_at"].endswith("Z")
    finally:  # the stack is shared by this worker's other tests: close the circuit again
        local_stack.client("dynamodb").delete_item(
            TableName=local_stack.resources["OpsTable"], Key={"pk": {"S": "CIRCUIT#mock"}}
        )
    assert _get(local_stack, "/health").json()["status"] == "healthy"


def test_balance_with_a_token_has_every_field_of_the_spec(local_stack: LocalStack, user_id: str) -> None:
    response = _get(local_stack, BALANCE, make_token(user_id, KycLevel.INTERMEDIATE))
    assert response.status_code == 200
    assert response.json() == {
        "balance": "0.00",
        "locked_balance": "0.00",
        "available_balance": "0.00",
        "currency": "INR",
        "daily_limit": "50000.00",
        "daily_used": "0.00",
        "daily_remaining": "50000.00",
        "monthly_limit": "1000000.00",
        "monthly_used": "0.00",
        "monthly_remaining": "1000000.00",
    }


SECRET = "test-only-secret-0123456789abcdef"


@pytest.mark.parametrize(
    "token",
    [
        None,
        "garbage",
        issue_token(SECRET, "u1", ttl=timedelta(minutes=-5)),
        issue_token("not-the-stack-secret-0123456789abcdef", "u1"),
        jwt.encode({"sub": "u1", "exp": 4102444800}, "", algorithm="none"),
    ],
    ids=["missing", "garbage", "expired", "forged", "alg-none"],
)
def test_protected_routes_answer_401_in_the_envelope(local_stack: LocalStack, token: str | None) -> None:
    for path in (BALANCE, TRANSACTIONS):
        response = _get(local_stack, path, token)
        assert response.status_code == 401
        assert response.json() == {
            "success": False,
            "error": {"code": "UNAUTHORIZED", "message": "Missing or invalid bearer token"},
        }


def test_unknown_routes_are_404_in_the_envelope(local_stack: LocalStack) -> None:
    """API Gateway's MISSING_AUTHENTICATION_TOKEN (its answer to a path or method it does not
    have), rendered from the template's gateway response, as JSON."""
    response = _get(local_stack, "/api/v1/payments/nope", make_token("u1"))
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "No route for this method and path"},
    }


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "FOO"])
def test_unknown_methods_get_the_envelope_not_an_html_page(local_stack: LocalStack, method: str) -> None:
    """Fuzzing found TRACE answered by the local server's 501 HTML page; API Gateway answers a
    method it does not have like any unknown route."""
    response = requests.request(method, local_stack.api + BALANCE, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "path", [f"{API}/deposits/initiate", f"{API}/methods", "/webhooks/mock", "/mock-gateway/checkout/order_x/pay"]
)
def test_a_body_that_is_not_utf8_is_400_in_the_envelope(local_stack: LocalStack, path: str) -> None:
    """Fuzzing found the connection dropped without an answer (384 of 18,649 cases): the body is
    passed base64-encoded, as API Gateway passes what is not text, and refused with 400."""
    headers = {"Authorization": f"Bearer {make_token('u_bytes')}", "Content-Type": "application/json"}
    response = requests.post(local_stack.api + path, data=b'{"amount": "\xff\xfe"}', headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "VALIDATION_ERROR", "message": "The body must be UTF-8 text"}


def test_a_browser_preflight_gets_the_grants_only_for_an_allowed_origin(local_stack: LocalStack) -> None:
    """The local stack allows CORS_ALLOWED_ORIGINS=https://app.example.com (tests/support)."""
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = requests.options(
        local_stack.api + "/api/v1/payments/deposits/initiate", headers={**asked, "Origin": WEB_ORIGIN}, timeout=10
    )
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert "Idempotency-Key" in allowed.headers["Access-Control-Allow-Headers"]
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    other = requests.options(
        local_stack.api + "/api/v1/payments/deposits/initiate",
        headers={**asked, "Origin": "https://evil.example"},
        timeout=10,
    )
    assert other.status_code == 204
    assert "Access-Control-Allow-Origin" not in other.headers


def test_answers_carry_cors_headers_for_an_allowed_origin_errors_included(
    local_stack: LocalStack, user_id: str
) -> None:
    mine = requests.get(
        local_stack.api + BALANCE,
        headers={"Authorization": f"Bearer {make_token(user_id)}", "Origin": WEB_ORIGIN},
        timeout=10,
    )
    assert (mine.status_code, mine.headers["Access-Control-Allow-Origin"]) == (200, WEB_ORIGIN)
    assert "Idempotent-Replayed" in mine.headers["Access-Control-Expose-Headers"]
    elsewhere = requests.get(
        local_stack.api + BALANCE,
        headers={"Authorization": f"Bearer {make_token(user_id)}", "Origin": "https://evil.example"},
        timeout=10,
    )
    assert elsewhere.status_code == 200
    assert "Access-Control-Allow-Origin" not in elsewhere.headers
    refused = requests.get(
        local_stack.api + BALANCE, headers={"Origin": WEB_ORIGIN}, timeout=10
    )  # API Gateway's own 401
    assert (refused.status_code, refused.headers["Access-Control-Allow-Origin"]) == (401, WEB_ORIGIN)


def test_history_over_http_is_the_callers_own(local_stack: LocalStack, user_id: str) -> None:
    ledger = Ledger(Connection(host=local_stack.moto, region="us-east-1"))
    for n in range(3):
        ledger.credit(
            user_id,
            10_000 * (n + 1),
            NewTransaction(f"txn_{n}", TransactionType.DEPOSIT, TransactionStatus.COMPLETED, "INR", "top-up"),
        )
    ledger.credit("intruder_target", 99, NewTransaction("txn_x", TransactionType.DEPOSIT, TransactionStatus.COMPLETED))

    mine = _get(local_stack, TRANSACTIONS, make_token(user_id), limit=2)
    assert mine.status_code == 200
    body = mine.json()
    assert [t["id"] for t in body["transactions"]] == ["txn_2", "txn_1"]
    assert (body["total"], body["has_more"]) == (3, True)
    rest = _get(local_stack, TRANSACTIONS, make_token(user_id), limit=2, cursor=body["next_cursor"]).json()
    assert [t["id"] for t in rest["transactions"]] == ["txn_0"]
    assert _get(local_stack, BALANCE, make_token(user_id)).json()["balance"] == "600.00"

    other = _get(local_stack, TRANSACTIONS, make_token("someone_new")).json()
    assert other["transactions"] == []
    assert other["total"] == 0


def test_validation_errors_are_422_not_500(local_stack: LocalStack) -> None:
    response = _get(local_stack, TRANSACTIONS, make_token("u1"), limit="lots")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "limit must be a whole number",
        "details": {"field": "limit"},
    }


def test_lambda_invocations_in_moto_run_the_real_handler(local_stack: LocalStack) -> None:
    """Step Functions tasks reach functions through moto's Lambda API; the local stack routes
    those invocations to the real handler, not moto's echo."""
    import json

    lam = local_stack.client("lambda")
    response = lam.invoke(
        FunctionName=local_stack.resources["HealthFunction"],
        Payload=json.dumps(
            {
                "resource": "/health",
                "path": "/health",
                "httpMethod": "GET",
                "headers": {},
                "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "stage": "dev"},
            }
        ),
    )
    result = json.loads(response["Payload"].read())
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["database"]["status"] == "healthy"
