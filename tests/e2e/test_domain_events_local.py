"""`make run` delivers the domain events too: its poller reads the ledger stream, the publisher
puts them on the stack's bus, and the local delivery writes each to --events-file and POSTs it to
--events-url with the API key header, the body a deployed API destination sends."""

import json
import time
from decimal import Decimal
from typing import Any

import requests

from payments_client import PaymentClient
from tests.support.domain_events import schema_problems
from tests.support.fixtures import EVENTS_API_KEY, LocalStack, make_token


def _wait_for(found: Any, what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {seconds} s")


def test_a_deposit_reaches_the_events_file_and_the_endpoint(local_stack: LocalStack, user_id: str) -> None:
    client = PaymentClient(local_stack.api, make_token(user_id))
    method = client.add_payment_method("CARD", "mock", "tok_mock_success")
    started = client.initiate_deposit(Decimal("75.25"), method.id)
    paid = requests.post(
        f"{local_stack.api}/mock-gateway/checkout/{started.order_id}/pay", json={"action": "pay"}, timeout=30
    )
    assert paid.status_code == 200, paid.text

    def in_file() -> list[dict[str, Any]]:
        lines = local_stack.events_file.read_text().splitlines() if local_stack.events_file.exists() else []
        return [
            event for event in map(json.loads, lines) if event["data"].get("transaction_id") == started.transaction_id
        ]

    (event,) = _wait_for(in_file, "deposit.completed in the events file")
    assert (event["type"], event["user_id"], event["data"]["amount"]) == ("deposit.completed", user_id, "75.25")
    assert schema_problems(event) == []
    posted = _wait_for(
        lambda: [(h, e) for h, e in local_stack.events_received if e["id"] == event["id"]], "the POST to the endpoint"
    )
    headers, detail = posted[0]
    assert detail == event
    assert {key.lower(): value for key, value in headers.items()}["x-api-key"] == EVENTS_API_KEY
