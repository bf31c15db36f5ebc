"""Call handlers in-process the way API Gateway would, for integration tests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from tests.support import contract
from tests.support.fixtures import load_event


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class InProcessApi:
    """``api.post("DepositInitiateFunction", "/api/...", user, body)`` -> :class:`Reply`."""

    def __init__(self, deployment: Any) -> None:
        self._runtime = deployment.runtime

    def call(
        self,
        function: str,
        method: str,
        path: str,
        user_id: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path_params: dict[str, str] | None = None,
        raw_body: str | bytes | None = None,
        source_ip: str = "203.0.113.10",
        roles: str = "user",
        kyc: str = "BASIC",
        base64_body: bool = False,
    ) -> Reply:
        event = load_event("wallet_balance", user_id, query=None)
        if user_id is not None:
            event["requestContext"]["authorizer"].update(roles=roles, kyc_level=kyc)
        event.update(resource=path, path=path, httpMethod=method, pathParameters=path_params)
        if path_params:
            resource = path
            for name, value in path_params.items():
                resource = resource.replace(value, "{" + name + "}")
            event["resource"] = resource
        event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        if base64_body and event["body"] is not None:  # as API Gateway passes a binary media type
            raw = event["body"] if isinstance(event["body"], bytes) else event["body"].encode()
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
        all_headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "http", **(headers or {})}
        event["headers"] = all_headers
        event["multiValueHeaders"] = {key: [value] for key, value in all_headers.items()}
        context = event["requestContext"]
        context.update(httpMethod=method, path=path, resourcePath=event["resource"], domainName="127.0.0.1:3000")
        context["identity"]["sourceIp"] = source_ip
        if user_id is None:
            context.pop("authorizer", None)
        response = self._runtime.invoke(function, event)
        text = response.get("body") or ""
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        headers_out = dict(response.get("headers") or {})
        headers_out.update({key: ",".join(values) for key, values in (response.get("multiValueHeaders") or {}).items()})
        contract.check(method, event["resource"], response["statusCode"], parsed)
        return Reply(response["statusCode"], parsed, headers_out)

    def post(self, function: str, path: str, user_id: str | None, body: Any, **kwargs: Any) -> Reply:
        return self.call(function, "POST", path, user_id, body, **kwargs)

    def get(self, function: str, path: str, user_id: str | None, **kwargs: Any) -> Reply:
        return self.call(function, "GET", path, user_id, **kwargs)


METHODS = "/api/v1/payments/methods"
INITIATE = "/api/v1/payments/deposits/initiate"
CONFIRM = "/api/v1/payments/deposits/confirm"
BALANCE = "/api/v1/payments/wallet/balance"


class Wallets:
    """Steps of the deposit story, in-process: add a method, initiate, pay at the mock, confirm."""

    def __init__(self, api: InProcessApi) -> None:
        self.api = api

    def add_method(
        self, user_id: str, token: str = "tok_mock_success", gateway: str = "mock", kind: str = "CARD"
    ) -> str:
        reply = self.api.post(
            "MethodsCreateFunction",
            METHODS,
            user_id,
            {"type": kind, "gateway": gateway, "token": token, "metadata": {"last_four": "4242", "brand": "visa"}},
        )
        assert reply.status == 200, reply.body
        return reply.body["payment_method"]["id"]

    def initiate(
        self, user_id: str, method_id: str, amount: Any = "1000.50", kyc: str = "BASIC", **extra: Any
    ) -> Reply:
        body = {"amount": amount, "payment_method_id": method_id, **extra}
        return self.api.post("DepositInitiateFunction", INITIATE, user_id, body, kyc=kyc)

    def pay(self, order_id: str, action: str = "pay") -> dict[str, Any]:
        path = f"/mock-gateway/checkout/{order_id}/pay"
        reply = self.api.post(
            "MockCheckoutFunction", path, None, {"action": action}, path_params={"order_id": order_id}
        )
        assert reply.status == 200, reply.body
        return reply.body

    def confirm(self, user_id: str, txn_id: str, payment_id: str, gateway_data: dict[str, str]) -> Reply:
        body = {"transaction_id": txn_id, "gateway_payment_id": payment_id, "gateway_data": gateway_data}
        return self.api.post("DepositConfirmFunction", CONFIRM, user_id, body)

    def balance(self, user_id: str) -> str:
        reply = self.api.get("WalletBalanceFunction", BALANCE, user_id)
        assert reply.status == 200, reply.body
        return reply.body["balance"]

    def history(self, user_id: str) -> list[dict[str, Any]]:
        reply = self.api.get("WalletTransactionsFunction", "/api/v1/payments/wallet/transactions", user_id)
        assert reply.status == 200, reply.body
        return reply.body["transactions"]

    def transaction(self, user_id: str, txn_id: str) -> dict[str, Any]:
        return next(txn for txn in self.history(user_id) if txn["id"] == txn_id)
