"""Swagger UI at /docs on the local stack, offline: the page loads without any request leaving
the stack, lists every operation of docs/openapi.json, and "Try it out" on /health gets 200.
The browser part needs Debian's chromium (`make test` installs it in CI)."""

import json
import shutil

import pytest
import requests

from local.api_docs import DOCUMENT
from tests.support.fixtures import LocalStack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_docs_serve_the_contract_with_this_stack_as_its_server(local_stack: LocalStack) -> None:
    page = requests.get(f"{local_stack.api}/docs", timeout=30)
    assert (page.status_code, page.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "https://" not in page.text  # every file it loads is served here
    served = requests.get(f"{local_stack.api}/docs/openapi.json", timeout=30).json()
    committed = json.loads(DOCUMENT.read_text())
    assert served["servers"] == [{"url": local_stack.api, "description": "this local stack"}]
    assert {**served, "servers": committed["servers"]} == committed
    bundle = requests.get(f"{local_stack.api}/docs/swagger-ui-bundle.js", timeout=30)
    assert bundle.status_code == 200
    assert "SwaggerUIBundle" in bundle.text
    assert requests.get(f"{local_stack.api}/docs/../template.yaml", timeout=30).status_code == 404


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_swagger_ui_lists_every_operation_and_tries_health(local_stack: LocalStack) -> None:
    from playwright.sync_api import sync_playwright

    document = json.loads(DOCUMENT.read_text())
    # the API's operations, and the domain events it sends (OpenAPI webhooks, a section of their own)
    operations = sum(len(methods) for part in ("paths", "webhooks") for methods in document[part].values())
    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = browser.new_page()
            page.on("request", lambda r: None if r.url.startswith(local_stack.api) else elsewhere.append(r.url))
            page.goto(f"{local_stack.api}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() == operations
            health = page.locator("#operations-health-getHealth")
            health.locator(".opblock-summary").click()
            health.get_by_role("button", name="Try it out").click()
            health.get_by_role("button", name="Execute").click()
            status = health.locator(".live-responses-table tr.response .response-col_status").first
            status.wait_for(timeout=30_000)
            assert status.inner_text().strip().startswith("200")
        finally:
            browser.close()
    assert elsewhere == []
