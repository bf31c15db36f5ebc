"""``make smoke URL=https://<api-id>.execute-api.<region>.amazonaws.com/<stage> TOKEN=<jwt>``

A minute-long end-to-end check of a deployed stack (or the local one): health, the caller's
balance, and - on a stack with the Mock gateway enabled - one deposit paid at the Mock checkout
and one withdrawal paid out by the Mock, each followed until the wallet shows it. Standard library
only. Exits non-zero at the first failed check, saying which and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

API = "/api/v1/payments"


class SmokeFailed(Exception):
    pass


class Client:
    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url, self.token, self.timeout_s = url.rstrip("/"), token, timeout_s

    def call(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        if method == "POST":
            headers["Idempotency-Key"] = f"smoke-{uuid.uuid4()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - the URL given
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return error.code, json.loads(payload)
            except ValueError:
                return error.code, payload.decode(errors="replace")

    def expect(self, status: int, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        got, answer = self.call(method, path, body, auth)
        if got != status:
            raise SmokeFailed(f"{method} {path} answered {got}, expected {status}: {answer}")
        return answer


def _until(what: str, probe: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SmokeFailed(f"{what}: not seen within {timeout_s:.0f} s")
        time.sleep(1)


def run(client: Client, wait_s: float) -> list[str]:
    done = []
    health = client.expect(200, "GET", "/health", auth=False)
    if health.get("status") != "healthy":
        raise SmokeFailed(f"/health: {health}")
    done.append("health: healthy")
    start = Decimal(client.expect(200, "GET", f"{API}/wallet/balance")["balance"])
    done.append(f"balance: {start}")

    card = {"type": "CARD", "gateway": "mock", "token": "tok_mock_success", "metadata": {"last_four": "4242"}}
    method_id = client.expect(200, "POST", f"{API}/methods", card)["payment_method"]["id"]
    deposit = {"amount": "10.00", "payment_method_id": method_id}
    status, started = client.call("POST", f"{API}/deposits/initiate", deposit)
    if status == 400 and started.get("error", {}).get("code") == "GATEWAY_NOT_CONFIGURED":
        client.call("DELETE", f"{API}/methods/{method_id}")
        done.append("deposit and withdrawal: skipped, the Mock gateway is not enabled (EnableMockGateway=false)")
        return done
    if status != 200:
        raise SmokeFailed(f"deposit initiate answered {status}: {started}")
    client.expect(200, "POST", f"/mock-gateway/checkout/{started['order_id']}/pay", {"action": "pay"}, auth=False)

    def credited() -> Decimal | None:
        balance = Decimal(client.expect(200, "GET", f"{API}/wallet/balance")["balance"])
        return balance if balance == start + 10 else None

    _until("deposit of 10.00 credited", credited, wait_s)
    done.append(f"deposit: {started['transaction_id']} credited 10.00")

    account = {**card, "type": "BANK_TRANSFER"}
    payout_method = client.expect(200, "POST", f"{API}/methods", account)["payment_method"]["id"]
    withdrawal = client.expect(
        202, "POST", f"{API}/withdrawals/initiate", {"amount": "5.00", "payment_method_id": payout_method}
    )
    withdrawal_id = withdrawal["withdrawal_id"]

    def finished() -> dict[str, Any] | None:
        state = client.expect(200, "GET", f"{API}/withdrawals/{withdrawal_id}/status")
        return state if state["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    final = _until(f"withdrawal {withdrawal_id} finished", finished, wait_s)
    if final["status"] != "COMPLETED":
        raise SmokeFailed(f"withdrawal {withdrawal_id} ended {final['status']}: {final}")
    balance = Decimal(client.expect(200, "GET", f"{API}/wallet/balance")["balance"])
    if balance != start + 5:
        raise SmokeFailed(f"balance after deposit 10.00 and withdrawal 5.00 is {balance}, expected {start + 5}")
    done.append(f"withdrawal: {withdrawal_id} paid out 5.00; balance {balance}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make smoke", description=__doc__.split("\n\n")[1])
    parser.add_argument("--url", required=True, help="the stack's ApiUrl output")
    parser.add_argument("--token", required=True, help="a JWT signed with the stack's JWT secret")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for a webhook or payout")
    args = parser.parse_args(argv)
    try:
        for line in run(Client(args.url, args.token, timeout_s=30.0), args.wait):
            print(f"ok   {line}")
    except (SmokeFailed, urllib.error.URLError, OSError) as failure:
        print(f"FAIL {failure}")
        return 1
    print("smoke: the stack works end to end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
