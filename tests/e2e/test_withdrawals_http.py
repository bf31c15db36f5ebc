"""Withdrawals over HTTP on the local stack: the real ASL runs in moto, its steps are our Lambdas.

The e2e stack waits 8 s for a payout webhook (PayoutTimeoutSeconds), so the timeout path runs.
"""

import time
from typing import Any

import pytest
import requests

from payments.core.caller import KycLevel
from tests.support.fixtures import LocalStack, make_token

API = "/api/v1/payments"
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


class Account:
    def __init__(self, stack: LocalStack, user_id: str, kyc: KycLevel = KycLevel.INTERMEDIATE) -> None:
        self.stack = stack
        self.headers = {"Authorization": f"Bearer {make_token(user_id, kyc)}"}

    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None) -> requests.Response:
        return requests.request(
            method, f"{self.stack.api}{path}", json=body, headers={**self.headers, **(headers or {})}, timeout=30
        )

    def method(self, kind: str, token: str) -> str:
        reply = self.call("POST", f"{API}/methods", {"type": kind, "gateway": "mock", "token": token})
        assert reply.status_code == 200, reply.text
        return reply.json()["payment_method"]["id"]

    def deposit(self, amount: str) -> str:
        started = self.call(
            "POST",
            f"{API}/deposits/initiate",
            {"amount": amount, "payment_method_id": self.method("CARD", "tok_mock_success")},
        ).json()
        requests.post(
            f"{self.stack.api}/mock-gateway/checkout/{started['order_id']}/pay", json={"action": "pay"}, timeout=30
        )
        return started["transaction_id"]

    def withdraw(self, amount: str, token: str) -> dict[str, Any]:
        reply = self.call(
            "POST",
            f"{API}/withdrawals/initiate",
            {"amount": amount, "payment_method_id": self.method("BANK_TRANSFER", token)},
        )
        assert reply.status_code == 202, reply.text
        return reply.json()

    def status(self, withdrawal_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"{API}/withdrawals/{withdrawal_id}/status")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait(self, withdrawal_id: str, until: Any, timeout_s: float = 40) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            current = self.status(withdrawal_id)
            if until(current) or time.monotonic() > deadline:
                return current
            time.sleep(0.3)

    def balance(self) -> dict[str, str]:
        return self.call("GET", f"{API}/wallet/balance").json()


@pytest.fixture
def account(local_stack: LocalStack, user_id: str) -> Account:
    return Account(local_stack, user_id)


def _finished(status: dict) -> bool:
    return status["status"] in FINAL


def test_a_success_token_completes_and_debits_once(account: Account) -> None:
    account.deposit("1000.00")
    started = account.withdraw("250.00", "tok_mock_success")
    assert (started["status"], started["amount"]) == ("PENDING", "250.00")
    done = account.wait(started["withdrawal_id"], _finished)
    assert (done["status"], done["stage"]) == ("COMPLETED", "SETTLED")
    assert done["gateway_payout_id"].startswith("pout_mock_")
    assert account.balance()["balance"] == "750.00"
    assert account.balance()["locked_balance"] == "0.00"


def test_a_failing_payout_releases_the_funds(account: Account) -> None:
    account.deposit("1000.00")
    started = account.withdraw("250.00", "tok_mock_payout_fail")
    done = account.wait(started["withdrawal_id"], _finished)
    assert (done["status"], done["failure_reason"]) == ("FAILED", "Beneficiary bank rejected the transfer")
    assert (account.balance()["balance"], account.balance()["available_balance"]) == ("1000.00", "1000.00")


def test_no_webhook_times_out_and_releases_the_funds(account: Account) -> None:
    account.deposit("1000.00")
    started = account.withdraw("100.00", "tok_mock_no_webhook")
    assert account.status(started["withdrawal_id"])["status"] in ("PENDING", "PROCESSING")
    done = account.wait(started["withdrawal_id"], _finished, timeout_s=60)
    assert done["status"] == "FAILED"
    assert account.balance()["available_balance"] == "1000.00"


def test_a_flagged_withdrawal_waits_for_an_admin_and_is_approved(account: Account, local_stack: LocalStack) -> None:
    account.deposit("20000.00")
    started = account.withdraw("12000.00", "tok_mock_success")
    waiting = account.wait(started["withdrawal_id"], lambda s: s["stage"] == "AWAITING_APPROVAL")
    assert (waiting["status"], account.balance()["locked_balance"]) == ("PENDING", "12000.00")
    not_admin = account.call("POST", f"{API}/admin/withdrawals/{started['withdrawal_id']}/approve")
    assert not_admin.status_code == 403
    admin = {"Authorization": f"Bearer {make_token('ops_admin', roles=('user', 'admin'))}"}
    url = f"{local_stack.api}{API}/admin/withdrawals/{started['withdrawal_id']}/approve"
    assert requests.post(url, headers=admin, timeout=30).status_code == 200
    again = requests.post(url, headers=admin, timeout=30)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "LEDGER_CONFLICT")  # decided already
    done = account.wait(started["withdrawal_id"], _finished)
    assert done["status"] == "COMPLETED"
    assert account.balance()["balance"] == "8000.00"


def test_a_flagged_withdrawal_rejected_by_an_admin_is_released(account: Account, local_stack: LocalStack) -> None:
    account.deposit("20000.00")
    started = account.withdraw("15000.00", "tok_mock_success")
    account.wait(started["withdrawal_id"], lambda s: s["stage"] == "AWAITING_APPROVAL")
    admin = {"Authorization": f"Bearer {make_token('ops_admin', roles=('user', 'admin'))}"}
    url = f"{local_stack.api}{API}/admin/withdrawals/{started['withdrawal_id']}/reject"
    assert requests.post(url, headers=admin, timeout=30).status_code == 200
    done = account.wait(started["withdrawal_id"], _finished)
    assert (done["status"], done["failure_reason"]) == ("CANCELLED", "rejected by an admin")
    assert account.balance()["available_balance"] == "20000.00"


def test_a_stuck_payout_goes_to_manual_review_and_an_admin_settles_it(
    account: Account, local_stack: LocalStack
) -> None:
    account.deposit("1000.00")
    started = account.withdraw("300.00", "tok_mock_payout_stuck")
    review = account.wait(started["withdrawal_id"], lambda s: s["stage"] == "MANUAL_REVIEW", timeout_s=60)
    assert (review["status"], account.balance()["locked_balance"]) == ("PROCESSING", "300.00")
    admin = {"Authorization": f"Bearer {make_token('ops_admin', roles=('user', 'admin'))}"}
    url = f"{local_stack.api}{API}/admin/withdrawals/{started['withdrawal_id']}/approve"
    assert requests.post(url, headers=admin, timeout=30).status_code == 200
    assert account.wait(started["withdrawal_id"], _finished)["status"] == "COMPLETED"
    assert account.balance()["balance"] == "700.00"


def test_withdrawals_are_private_and_validated(account: Account, local_stack: LocalStack) -> None:
    account.deposit("100.00")
    started = account.withdraw("50.00", "tok_mock_success")
    other = Account(local_stack, "someone_else")
    assert other.call("GET", f"{API}/withdrawals/{started['withdrawal_id']}/status").status_code == 404
    card_only = account.method("WALLET", "tok_mock_success")
    reply = account.call("POST", f"{API}/withdrawals/initiate", {"amount": "10.00", "payment_method_id": card_only})
    assert reply.status_code == 400, reply.text
    too_much = account.call(
        "POST",
        f"{API}/withdrawals/initiate",
        {"amount": "100000.00", "payment_method_id": account.method("UPI", "tok_mock_success")},
    )
    assert too_much.json()["error"]["code"] in ("PAY_002", "PAY_005")
    account.wait(started["withdrawal_id"], _finished)
