"""API Gateway answers some requests itself (no function runs): unknown routes, a refused token,
throttling, oversize or unsupported bodies, a failing integration. Each template of the API's
``GatewayResponses`` is rendered here the way API Gateway renders it (``$context.error.messageString``
is the message already in quotes) and must be the same JSON envelope as the handlers'. The local
front renders with the same function, so a template that only works locally cannot pass."""

from __future__ import annotations

import json

import pytest

from local.front import render_gateway_template, render_response_headers
from local.template import gateway_responses, load_template

RESPONSES = gateway_responses(load_template())
#: Messages API Gateway puts in $context.error.message for these responses.
MESSAGES = ["Missing Authentication Token", "Unauthorized", "Request Too Long", "Unsupported Media Type", "Forbidden"]


@pytest.mark.parametrize("kind", sorted(RESPONSES))
@pytest.mark.parametrize("message", MESSAGES)
def test_every_gateway_response_renders_as_the_error_envelope(kind: str, message: str) -> None:
    rendered = render_gateway_template(RESPONSES[kind].body, {"error.message": message, "requestId": "req-1"})
    body = json.loads(rendered)  # a template quoting messageString again is invalid JSON here
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"].isupper()
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def test_message_string_is_quoted_and_message_raw() -> None:
    context = {"error.message": "Request Too Long", "requestId": "r"}
    assert render_gateway_template('{"m": $context.error.messageString}', context) == '{"m": "Request Too Long"}'
    assert render_gateway_template('{"m": "$context.error.messageString"}', context) == '{"m": ""Request Too Long""}'
    assert render_gateway_template('"id $context.requestId"', context) == '"id r"'


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", 404, "NOT_FOUND"),
        ("UNAUTHORIZED", 401, "UNAUTHORIZED"),
        ("ACCESS_DENIED", 403, "FORBIDDEN"),
        ("THROTTLED", 429, "RATE_LIMITED"),
        ("REQUEST_TOO_LARGE", 413, "PAYLOAD_TOO_LARGE"),
        ("UNSUPPORTED_MEDIA_TYPE", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_each_documented_gateway_answer_has_its_status_and_code(kind: str, status: int, code: str) -> None:
    response = RESPONSES[kind]
    assert response.status == status
    assert json.loads(render_gateway_template(response.body, {"error.message": "x"}))["error"]["code"] == code


def test_gateway_responses_echo_the_origin_for_browser_clients() -> None:
    for kind, response in RESPONSES.items():
        headers = render_response_headers(response.headers, {"origin": "https://app.example.com"})
        assert headers == {"Access-Control-Allow-Origin": "https://app.example.com", "Vary": "Origin"}, kind
        assert render_response_headers(response.headers, {}) == {"Vary": "Origin"}, kind
