"""Deposits over HTTP on the local stack, the way a client app and a person would do them."""

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.support.fixtures import LocalStack, make_token

API = "/api/v1/payments"


class Client:
    def __init__(self, stack: LocalStack, user_id: str) -> None:
        self.base = stack.api
        self.headers = {"Authorization": f"Bearer {make_token(user_id)}"}

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=body, headers={**self.headers, **headers}, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}{path}", headers=self.headers, timeout=30)

    def balance(self) -> str:
        return self.get(f"{API}/wallet/balance").json()["balance"]

    def status_of(self, txn_id: str) -> str:
        history = self.get(f"{API}/wallet/transactions").json()["transactions"]
        return next(txn["status"] for txn in history if txn["id"] == txn_id)

    def deposit(self, token: str, amount: str = "250.00") -> dict[str, Any]:
        method = self.post(
            f"{API}/methods",
            {"type": "CARD", "gateway": "mock", "token": token, "metadata": {"last_four": "4242", "brand": "VISA"}},
        )
        assert method.status_code == 200, method.text
        started = self.post(
            f"{API}/deposits/initiate", {"amount": amount, "payment_method_id": method.json()["payment_method"]["id"]}
        )
        assert started.status_code == 200, started.text
        return started.json()


@pytest.fixture
def client(local_stack: LocalStack, user_id: str) -> Client:
    return Client(local_stack, user_id)


def _pay(stack: LocalStack, order_id: str, action: str = "pay") -> dict[str, Any]:
    response = requests.post(f"{stack.api}/mock-gateway/checkout/{order_id}/pay", json={"action": action}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_add_method_initiate_confirm_credits_once(local_stack: LocalStack, client: Client) -> None:
    started = client.deposit("tok_mock_no_webhook")
    paid = _pay(local_stack, started["order_id"])
    confirm: Callable[[], requests.Response] = lambda: client.post(  # noqa: E731
        f"{API}/deposits/confirm",
        {
            "transaction_id": started["transaction_id"],
            "gateway_payment_id": paid["payment_id"],
            "gateway_data": {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]},
        },
    )
    first, second = confirm(), confirm()
    assert (first.status_code, first.json()["status"]) == (200, "COMPLETED")
    assert second.json()["status"] == "COMPLETED"
    assert client.balance() == "250.00"


def test_the_webhook_alone_credits_once(local_stack: LocalStack, client: Client) -> None:
    started = client.deposit("tok_mock_success")
    _pay(local_stack, started["order_id"])
    _pay(local_stack, started["order_id"])  # paying again returns the first payment
    assert client.balance() == "250.00"
    assert client.status_of(started["transaction_id"]) == "COMPLETED"


def test_a_decline_token_leaves_the_balance_and_fails_the_deposit(local_stack: LocalStack, client: Client) -> None:
    started = client.deposit("tok_mock_decline")
    assert _pay(local_stack, started["order_id"])["status"] == "FAILED"
    assert client.balance() == "0.00"
    assert client.status_of(started["transaction_id"]) == "FAILED"


def test_the_sweeper_can_be_fired_on_demand(local_stack: LocalStack) -> None:
    response = requests.post(f"{local_stack.api}/_local/schedules/DepositSweeperFunction", timeout=30)
    assert response.status_code == 200
    assert "examined" in response.json()
