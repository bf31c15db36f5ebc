"""Every POST that honours ``Idempotency-Key``, as deployed (each with its own role): the same key
and body twice is one operation, answered twice with the same body, the second marked replayed."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import InProcessApi, Reply, Wallets

API = "/api/v1/payments"


def _twice(post: Callable[[dict[str, str]], Reply], key: str) -> tuple[Reply, Reply]:
    headers = {"Idempotency-Key": key}
    return post(headers), post(headers)


def _methods(api: InProcessApi, wallets: Wallets, user_id: str) -> Callable[[dict[str, str]], Reply]:
    body = {"type": "CARD", "gateway": "mock", "token": "tok_mock_success", "metadata": {"last_four": "4242"}}
    return lambda headers: api.post("MethodsCreateFunction", f"{API}/methods", user_id, body, headers=headers)


def _initiate(api: InProcessApi, wallets: Wallets, user_id: str) -> Callable[[dict[str, str]], Reply]:
    body = {"amount": "25.00", "payment_method_id": wallets.add_method(user_id)}
    return lambda headers: api.post(
        "DepositInitiateFunction", f"{API}/deposits/initiate", user_id, body, headers=headers
    )


def _confirm(api: InProcessApi, wallets: Wallets, user_id: str) -> Callable[[dict[str, str]], Reply]:
    started = wallets.initiate(user_id, wallets.add_method(user_id), "25.00").body
    paid = wallets.pay(started["order_id"])
    body = {
        "transaction_id": started["transaction_id"],
        "gateway_payment_id": paid["payment_id"],
        "gateway_data": {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]},
    }
    return lambda headers: api.post("DepositConfirmFunction", f"{API}/deposits/confirm", user_id, body, headers=headers)


def _withdraw(api: InProcessApi, wallets: Wallets, user_id: str) -> Callable[[dict[str, str]], Reply]:
    started = wallets.initiate(user_id, wallets.add_method(user_id), "500.00").body
    wallets.pay(started["order_id"])
    body = {"amount": "100.00", "payment_method_id": wallets.add_method(user_id, kind="BANK_TRANSFER")}
    return lambda headers: api.post(
        "WithdrawalInitiateFunction", f"{API}/withdrawals/initiate", user_id, body, headers=headers
    )


def _refund(api: InProcessApi, wallets: Wallets, user_id: str) -> Callable[[dict[str, str]], Reply]:
    started = wallets.initiate(user_id, wallets.add_method(user_id), "40.00").body
    wallets.pay(started["order_id"])
    body = {"transaction_id": started["transaction_id"], "amount": "10.00", "reason": "requested"}
    return lambda headers: api.post("RefundCreateFunction", f"{API}/refunds", user_id, body, headers=headers)


@pytest.mark.parametrize("endpoint", [_methods, _initiate, _confirm, _withdraw, _refund], ids=lambda f: f.__name__)
def test_the_same_key_is_one_operation(
    endpoint: Callable[..., Callable[[dict[str, str]], Reply]], api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    post = endpoint(api, wallets, user_id)
    before = _history(api, user_id)
    first, again = _twice(post, f"key-{endpoint.__name__}")
    assert first.status in (200, 202), first.body
    assert (again.status, again.body) == (first.status, first.body)
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    after = _history(api, user_id)
    assert len(after) - len(before) <= 1  # one operation at most, whatever the endpoint records
    assert len(_methods_of(api, user_id)) <= 3


def _history(api: InProcessApi, user_id: str) -> list[dict[str, Any]]:
    return api.get("WalletTransactionsFunction", f"{API}/wallet/transactions", user_id).body["transactions"]


def _methods_of(api: InProcessApi, user_id: str) -> list[dict[str, Any]]:
    return api.get("MethodsListFunction", f"{API}/methods", user_id).body["payment_methods"]
