"""The logs of a deposit, a withdrawal and a refund, as their functions write them (Powertools'
JSON, every level): each line of the money's own functions carries its id as ``transaction_id``
(one search finds its whole life: API, webhook, saga steps), and no line holds a payment token,
a secret or card data (the card-data detector of the money issue)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from payments.platform.observability import logger
from tests.integration.test_money_defects import _txn
from tests.integration.test_withdrawals_faults import _funded, _withdraw
from tests.support.api import InProcessApi, Wallets
from tests.support.invariants import text_findings
from tests.support.signing import MOCK_KEY_SECRET, MOCK_WEBHOOK_SECRET, mock_webhook

Lines = Callable[[], list[dict[str, Any]]]
TOKEN = "tok_mock_success"


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """Every line the functions log, formatted as in Lambda (DEBUG and up)."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield lambda: [json.loads(line) for line in sink.getvalue().splitlines() if line.startswith("{")]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _of(lines: list[dict[str, Any]], *functions: str) -> list[dict[str, Any]]:
    return [line for line in lines if str(line.get("function_name", "")).endswith(functions)]


def _nothing_secret(lines: list[dict[str, Any]]) -> None:
    text = "\n".join(json.dumps(line) for line in lines)
    assert text_findings(text) == []
    for secret in (TOKEN, MOCK_KEY_SECRET, MOCK_WEBHOOK_SECRET, "local-dev-secret-not-for-production"):
        assert secret not in text


def test_a_deposit_is_one_search(wallets: Wallets, user_id: str, json_logs: Lines) -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token=TOKEN), "100.00").body
    paid = wallets.pay(started["order_id"])
    data = {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]}
    assert wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], data).status == 200
    lines = _of(json_logs(), "DepositInitiateFunction", "WebhookMockFunction", "DepositConfirmFunction")
    assert {line["function_name"].rsplit("-", 1)[-1] for line in lines} >= {"WebhookMockFunction"}
    assert lines
    assert {line.get("transaction_id") for line in lines} == {started["transaction_id"]}
    _nothing_secret(json_logs())


def test_a_withdrawal_is_one_search(api: InProcessApi, wallets: Wallets, user_id: str, json_logs: Lines) -> None:
    _funded(wallets, user_id)
    withdrawal_id = _withdraw(api, wallets, user_id, TOKEN, "50.00")
    # Waited for in the table, not through the status function: the local stack runs every
    # function in one process, and a concurrent invocation's log keys would mix into the saga's.
    deadline = time.monotonic() + 30
    while _txn(user_id, withdrawal_id).status != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _txn(user_id, withdrawal_id).status == "COMPLETED"
    steps = ("RiskCheckFunction", "RequestPayoutFunction", "SettleFunction", "WithdrawalInitiateFunction")
    lines = _of(json_logs(), *steps)
    assert {line["function_name"].rsplit("-", 1)[-1] for line in lines} >= {
        "WithdrawalRiskCheckFunction",
        "WithdrawalRequestPayoutFunction",
        "WithdrawalSettleFunction",
    }
    assert {line.get("transaction_id") for line in lines} == {withdrawal_id}
    _nothing_secret(json_logs())


def test_a_refund_is_one_search(api: InProcessApi, wallets: Wallets, user_id: str, json_logs: Lines) -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token=TOKEN), "40.00").body
    wallets.pay(started["order_id"])
    reply = api.post(
        "RefundCreateFunction",
        "/api/v1/payments/refunds",
        user_id,
        {"transaction_id": started["transaction_id"], "amount": "10.00", "reason": "requested"},
    )
    refund_id = reply.body["refund_id"]
    entity = {"id": "rfnd_x", "amount": 1000, "currency": "INR", "status": "processed", "receipt": refund_id}
    body, headers = mock_webhook("refund.processed", "refund", entity, f"evt_{refund_id}")
    api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    lines = _of(json_logs(), "RefundCreateFunction")
    assert lines
    assert {line.get("transaction_id") for line in lines} == {refund_id}
    assert {line.get("deposit_id") for line in lines} == {started["transaction_id"]}
    _nothing_secret(json_logs())
