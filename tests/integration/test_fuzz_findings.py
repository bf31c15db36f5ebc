"""What the schema fuzzing (tests/fuzz) found, each shown by one plain request. Every reply here is
also checked against docs/openapi.json by :class:`tests.support.api.InProcessApi`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import INITIATE, METHODS, InProcessApi

#: "²" is a digit to str.isdigit() but not a decimal digit: int() refuses it. (The screen read
#: the whole run of characters from it as one group of "digits": 13 to 19 of them reached int().)
NOT_DECIMAL = "\u00b2 not a digit"


@pytest.mark.parametrize(
    ("function", "path", "body", "status"),
    [
        ("DepositInitiateFunction", INITIATE, {"amount": NOT_DECIMAL, "payment_method_id": "pm_x"}, 400),
        ("RefundCreateFunction", "/api/v1/payments/refunds", {"transaction_id": "txn_x", "reason": NOT_DECIMAL}, 404),
        (
            "MethodsCreateFunction",
            METHODS,
            {"type": "CARD", "gateway": "mock", "token": "tok_mock_success", "metadata": {"label": NOT_DECIMAL}},
            200,
        ),
    ],
)
def test_a_body_with_a_digit_that_is_not_decimal_is_answered_not_a_500(
    api: InProcessApi, user_id: str, function: str, path: str, body: dict[str, Any], status: int
) -> None:
    """The card-data screen read "²" as a digit (str.isdigit) and then failed on int("²"): the
    function crashed (502 INTERNAL_ERROR) on any body holding one, whatever the field."""
    reply = api.post(function, path, user_id, body)
    assert reply.status == status, reply.body


@pytest.mark.parametrize("gateway", ["mock", "razorpay", "stripe"])
def test_a_webhook_body_that_is_not_utf8_is_the_documented_400(api: InProcessApi, gateway: str) -> None:
    """The webhook answers VALIDATION_ERROR (the body must be UTF-8 text), which docs/openapi.json
    did not list for webhooks: it listed only WEBHOOK_REFUSED under 400."""
    function = f"Webhook{gateway.title()}Function"
    reply = api.post(function, f"/webhooks/{gateway}", None, None, raw_body=b'{"event": "\xff\xfe"}', base64_body=True)
    assert reply.status == 400
    assert reply.body["error"] == {"code": "VALIDATION_ERROR", "message": "The body must be UTF-8 text"}
