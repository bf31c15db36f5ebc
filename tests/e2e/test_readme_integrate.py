"""The README's "Integrate" snippets, run as a reader would paste them, against the local stack:
the Python client's deposit and error, and the events handler fed the events the stack delivered
(the TypeScript snippet is clients/typescript/example/deposit.ts, which its Node tests run)."""

import contextlib
import io
import json
import re
import time
from typing import Any

import pytest

from local.template import REPO_ROOT
from tests.support.fixtures import EVENTS_API_KEY, LocalStack, make_token


def _snippets(language: str) -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Integrate\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def _run(code: str, namespace: dict[str, Any]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own snippet
    return out.getvalue()


def test_the_snippets_are_there() -> None:
    """Two Python snippets run below; the TypeScript one is checked verbatim against example/ by
    clients/typescript/tests/examples.test.ts."""
    assert len(_snippets("python")) == 2
    assert len(_snippets("ts")) == 1


def test_the_python_snippets_against_the_local_stack(
    local_stack: LocalStack, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_snippet, events_snippet = _snippets("python")
    monkeypatch.setenv("BASE_URL", local_stack.api)
    monkeypatch.setenv("TOKEN", make_token(user_id))
    printed = _run(client_snippet, {})
    assert printed.splitlines() == ["COMPLETED 1000.50", "PAY_003 404 Payment method not found"]

    monkeypatch.setenv("WALLET_EVENTS_KEY", EVENTS_API_KEY)
    handler: dict[str, Any] = {}
    _run(events_snippet, handler)
    deadline = time.monotonic() + 20
    while not (mine := [(h, e) for h, e in local_stack.events_received if e["user_id"] == user_id]):
        assert time.monotonic() < deadline, "the deposit's event never reached the endpoint"
        time.sleep(0.2)
    headers, event = mine[0]
    body = json.dumps(event).encode()
    lowered = {key.lower(): value for key, value in headers.items()}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert handler["on_wallet_event"](lowered, body) == 204
        assert handler["on_wallet_event"](lowered, body) == 204  # a redelivery: handled once
        assert handler["on_wallet_event"]({"x-api-key": "forged"}, body) == 401
    assert out.getvalue() == f"credited 1000.50 INR to {user_id}\n"
