"""The Mock gateway's hosted checkout page in headless Chromium: open checkout_url, press Pay,
see the balance change. Needs Debian's chromium (`make test` installs it in CI)."""

import shutil

import pytest
import requests

from tests.support.fixtures import LocalStack, make_token

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
API = "/api/v1/payments"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


def test_pay_on_the_checkout_page_and_see_the_balance_change(local_stack: LocalStack, user_id: str) -> None:
    from playwright.sync_api import sync_playwright

    token = make_token(user_id)
    headers = {"Authorization": f"Bearer {token}"}
    method = requests.post(
        f"{local_stack.api}{API}/methods",
        headers=headers,
        timeout=30,
        json={"type": "CARD", "gateway": "mock", "token": "tok_mock_no_webhook"},
    ).json()
    started = requests.post(
        f"{local_stack.api}{API}/deposits/initiate",
        headers=headers,
        timeout=30,
        json={"amount": "321.00", "payment_method_id": method["payment_method"]["id"]},
    ).json()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(f"{started['checkout_url']}#token={token}")
            assert page.locator("#amount").inner_text() == "321.00 INR"
            page.click("#pay")
            page.wait_for_function("document.getElementById('result').textContent.length > 0", timeout=15_000)
            assert page.locator("#result").inner_text() == "Payment successful"
        finally:
            browser.close()

    balance = requests.get(f"{local_stack.api}{API}/wallet/balance", headers=headers, timeout=30).json()
    assert balance["balance"] == "321.00"
