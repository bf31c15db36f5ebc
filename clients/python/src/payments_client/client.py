"""``PaymentClient``: one method per operation of docs/openapi.json, named as in the spec.

Safe retries: every POST carries an ``Idempotency-Key`` (yours, or one the client makes), and a
retry - after a network error, a 5xx, a 429 or 409 ``IDEMPOTENCY_IN_PROGRESS`` - sends the same
key, so the server answers the first outcome instead of moving money twice. 429 and 503 honour
``Retry-After``. Amounts go in as :class:`~decimal.Decimal` (or a decimal string, or an int) and
come back as Decimal; a ``float`` is refused, since it cannot hold 0.10 exactly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import requests

from payments_client import errors
from payments_client.models import (
    Balance,
    Decision,
    DepositConfirmed,
    DepositInitiated,
    Health,
    KycSet,
    Method,
    Refund,
    TransactionPage,
    WithdrawalStarted,
    WithdrawalStatus,
    parse,
)

T = TypeVar("T")
API = "/api/v1/payments"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _amount(value: Decimal | str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, (Decimal, str, int)):
        raise TypeError("amounts are Decimal, str or int, never float")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return format(amount, "f")


class PaymentClient:
    """A client for one user's token (or an admin's, for the ``admin_*`` methods)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_wait_s: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.session = session or requests.Session()
        self._sleep = sleep
        self.session.headers.update({"Accept": "application/json"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # ------------------------------------------------------------------ operations
    def get_health(self) -> Health:
        return parse(Health, self._call("GET", "/health", allow_status=(503,)))

    def get_wallet_balance(self) -> Balance:
        return parse(Balance, self._call("GET", f"{API}/wallet/balance"))

    def get_transactions(
        self,
        *,
        skip: int = 0,
        limit: int = 20,
        type: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
    ) -> TransactionPage:
        params = {"skip": skip, "limit": limit, "type": type, "status": status, "cursor": cursor}
        query = {name: value for name, value in params.items() if value is not None}
        return parse(TransactionPage, self._call("GET", f"{API}/wallet/transactions", params=query))

    def add_payment_method(
        self,
        type: str,
        gateway: str,
        token: str,
        metadata: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Method:
        body = {"type": type, "gateway": gateway, "token": token, "metadata": metadata or {}}
        answer = self._call("POST", f"{API}/methods", body, idempotency_key)
        return parse(Method, answer["payment_method"])

    def list_payment_methods(self) -> list[Method]:
        return [parse(Method, item) for item in self._call("GET", f"{API}/methods")["payment_methods"]]

    def delete_payment_method(self, method_id: str) -> None:
        self._call("DELETE", f"{API}/methods/{method_id}")

    def initiate_deposit(
        self,
        amount: Decimal | str | int,
        payment_method_id: str,
        *,
        gateway: str | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> DepositInitiated:
        body = {"amount": _amount(amount), "payment_method_id": payment_method_id}
        body |= {name: value for name, value in (("gateway", gateway), ("description", description)) if value}
        return parse(DepositInitiated, self._call("POST", f"{API}/deposits/initiate", body, idempotency_key))

    def confirm_deposit(
        self,
        transaction_id: str,
        gateway_payment_id: str,
        gateway_data: dict[str, str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> DepositConfirmed:
        body = {
            "transaction_id": transaction_id,
            "gateway_payment_id": gateway_payment_id,
            "gateway_data": gateway_data or {},
        }
        return parse(DepositConfirmed, self._call("POST", f"{API}/deposits/confirm", body, idempotency_key))

    def initiate_withdrawal(
        self,
        amount: Decimal | str | int,
        payment_method_id: str,
        *,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> WithdrawalStarted:
        body = {"amount": _amount(amount), "payment_method_id": payment_method_id}
        if description:
            body["description"] = description
        return parse(WithdrawalStarted, self._call("POST", f"{API}/withdrawals/initiate", body, idempotency_key))

    def get_withdrawal_status(self, withdrawal_id: str) -> WithdrawalStatus:
        return parse(WithdrawalStatus, self._call("GET", f"{API}/withdrawals/{withdrawal_id}/status"))

    def request_refund(
        self,
        transaction_id: str,
        amount: Decimal | str | int | None = None,
        *,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        body: dict[str, Any] = {"transaction_id": transaction_id}
        if amount is not None:
            body["amount"] = _amount(amount)
        if reason:
            body["reason"] = reason
        return parse(Refund, self._call("POST", f"{API}/refunds", body, idempotency_key))

    def admin_set_kyc_level(self, user_id: str, kyc_level: str) -> KycSet:
        return parse(KycSet, self._call("PUT", f"{API}/admin/users/{user_id}/kyc", {"kyc_level": kyc_level}))

    def admin_decide_withdrawal(self, withdrawal_id: str, approve: bool) -> Decision:
        decision = "approve" if approve else "reject"
        return parse(Decision, self._call("POST", f"{API}/admin/withdrawals/{withdrawal_id}/{decision}"))

    # ------------------------------------------------------------------ transport
    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        params: dict[str, Any] | None = None,
        allow_status: tuple[int, ...] = (),
    ) -> Any:
        headers = {}
        if method == "POST":  # one key for every attempt of this call: a retry is the same operation
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.request(
                    method, self.base_url + path, json=body, params=params, headers=headers, timeout=self.timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt > self.max_retries:
                    raise errors.NetworkError(f"{method} {path}: no answer after {attempt} attempts: {exc}") from exc
                self._sleep(self._backoff(attempt))
                continue
            answer = self._json(response)
            if response.ok or response.status_code in allow_status:
                return answer
            error = errors.from_response(response.status_code, answer, response.headers.get("x-amzn-RequestId"))
            retry_after = _seconds(response.headers.get("Retry-After"))
            if isinstance(error, errors.RateLimited):
                error.retry_after = retry_after
            if attempt > self.max_retries or not self._retryable(response.status_code, error):
                raise error
            self._sleep(min(retry_after, self.max_wait_s) if retry_after is not None else self._backoff(attempt))

    @staticmethod
    def _retryable(status: int, error: errors.ApiError) -> bool:
        """5xx and 429 have no outcome yet; a 4xx is the answer (retrying it gets the same one)."""
        return status in RETRY_STATUSES or isinstance(error, errors.IdempotencyInProgress)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_wait_s)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
