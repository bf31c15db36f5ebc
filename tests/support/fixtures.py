"""Shared fixtures: in-process moto with the template deployed, the local stack over HTTP,
tokens, event samples, and the ledger-invariant check that runs after every AWS-backed test."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.template import REPO_ROOT
from payments.core.caller import KycLevel
from payments.http.auth import issue_token
from tests.support.invariants import assert_ledger_invariants, stranded_locks

EVENTS_DIR = REPO_ROOT / "events"
#: The e2e stack waits 8 s (not a day) for a payout webhook, so the timeout path runs in a test.
#: The web origin the test stacks allow (CORS), as a deployment's CorsAllowedOrigins would.
WEB_ORIGIN = "https://app.example.com"
LOCAL_PARAMETERS = ["--parameter", "PayoutTimeoutSeconds=8", "--parameter", f"CorsAllowedOrigins={WEB_ORIGIN}"]
STACK_NAME = "payments-test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder is the layer: tests/unit -> @unit and so on, so `pytest -m unit` works."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for layer in ("unit", "integration", "e2e", "property", "fuzz"):
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The schema fuzzing's count of cases: tests/fuzz records it per shard (the workers of -n
    pass it on with their reports); the total is what issue 12's acceptance counts."""
    shards = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        found = dict(getattr(report, "user_properties", ()))
        if report.when == "call" and "fuzz_cases" in found:
            shards.append((found, report.outcome))
    if shards:
        cases = sum(found["fuzz_cases"] for found, _ in shards)
        operations = sum(found["fuzz_operations"] for found, _ in shards)
        seconds = " + ".join(f"{found['fuzz_seconds']} s" for found, _ in shards)
        outcomes = ", ".join(outcome for _, outcome in shards)
        terminalreporter.write_line(
            f"schema fuzzing: {cases} generated cases over {operations} operations of docs/openapi.json"
            f" in {len(shards)} shards ({seconds}; {outcomes})"
        )


@pytest.fixture(scope="session")
def aws() -> Iterator[Any]:
    """moto in-process for the whole session, with every resource of template.yaml created the
    way the local stack creates them. Tests isolate themselves with fresh user ids."""
    from moto import mock_aws

    from local.stack import configure_moto, deploy
    from tests.support.invariants import entries_without_audit, sensitive_findings

    configure_moto()
    with mock_aws():
        yield deploy(STACK_NAME, parameters={"CorsAllowedOrigins": WEB_ORIGIN})
        # Whatever the suite did, no table may hold a card number or a gateway secret.
        client = boto3.client("dynamodb")
        for table in (os.environ["LEDGER_TABLE_NAME"], os.environ["OPS_TABLE_NAME"], os.environ["AUDIT_TABLE_NAME"]):
            findings = sensitive_findings(client, table)
            assert not findings, f"sensitive data stored in {table}: {findings}"
        # Every ledger entry of the session has its audit record (they commit in one transaction;
        # checked once here - a scan of both tables after every test made the suite quadratic -
        # and per user after every fault-sweep case).
        missing = entries_without_audit(client, os.environ["LEDGER_TABLE_NAME"], os.environ["AUDIT_TABLE_NAME"])
        assert missing == set(), f"ledger entries without audit records: {sorted(missing)[:10]}"


@pytest.fixture
def api(aws: Any) -> Any:
    """The API in-process. Each test starts with every gateway's circuit closed: the breaker's
    state is shared through the ops table, and another test's failures must not open it here."""
    from payments.store.ops_table import CircuitItem
    from tests.support.api import InProcessApi

    for gateway in ("razorpay", "stripe", "mock"):
        CircuitItem(f"CIRCUIT#{gateway}").delete()
    return InProcessApi(aws)


@pytest.fixture(scope="session")
def _domain_events(aws: Any) -> Any:
    from tests.support.domain_events import DomainEvents

    return DomainEvents(aws)


@pytest.fixture
def domain_events(_domain_events: Any) -> Any:
    """The domain events of what the test commits (tests.support.domain_events)."""
    return _domain_events.skip()


@pytest.fixture
def wallets(api: Any) -> Any:
    from tests.support.api import Wallets

    return Wallets(api)


@dataclass(frozen=True)
class LocalStack:
    api: str
    moto: str
    resources: dict[str, str]
    events_file: Path  # the domain events' details, one JSON per line (--events-file)
    events_received: list[tuple[dict[str, str], dict[str, Any]]]  # (headers, detail) POSTed to --events-url

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto)


#: The key the local stack sends the domain events to the test's endpoint with (x-api-key).
EVENTS_API_KEY = "local-events-key"


def events_endpoint(status: int = 204) -> tuple[str, list[tuple[dict[str, str], dict[str, Any]]], Any]:
    """A client backend's endpoint for the domain events, as EventsEndpointUrl would name it: it
    answers ``status`` and keeps what it received (headers, body). Returns the URL, what was
    received and the server (``shutdown()`` stops it)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((dict(self.headers), json.loads(body)))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/events", received, server


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """`python -m local` in a subprocess, exactly as `make run` starts it, on free ports."""
    folder = tmp_path_factory.mktemp("local-stack")
    log, events_file = folder / "stack.log", folder / "events.jsonl"
    events_url, events_received, _ = events_endpoint()
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'shared'}",
        "LOCAL_EVENTS_API_KEY": EVENTS_API_KEY,
    }
    with log.open("w") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own module
            [
                sys.executable,
                "-m",
                "local",
                "--port",
                "0",
                "--stack-name",
                STACK_NAME,
                "--quiet",
                "--no-schedules",
                *LOCAL_PARAMETERS,
                "--events-file",
                str(events_file),
                "--events-url",
                events_url,
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        info = None
        while info is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local stack did not start:\n{log.read_text()}")
            for line in log.read_text().splitlines():
                if line.startswith("LOCAL_STACK "):
                    info = json.loads(line.removeprefix("LOCAL_STACK "))
            time.sleep(0.1)
        yield LocalStack(info["api"], info["moto"], info["resources"], events_file, events_received)
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(autouse=True)
def _ledger_invariants_hold(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that touched AWS (in-process or the local stack), the money adds up."""
    yield
    table = os.environ["LEDGER_TABLE_NAME"]
    clients = []
    if "aws" in request.fixturenames:
        clients.append((boto3.client("dynamodb"), boto3.client("stepfunctions")))
    if "local_stack" in request.fixturenames:
        stack = request.getfixturevalue("local_stack")
        clients.append((stack.client("dynamodb"), stack.client("stepfunctions")))
    for dynamodb, stepfunctions in clients:
        assert_ledger_invariants(dynamodb, table)
        assert stranded_locks(dynamodb, table, stepfunctions) == [], "funds locked without a running saga"


@pytest.fixture
def user_id() -> str:
    return unique_id("user")


def unique_id(prefix: str) -> str:
    """``<prefix>_<12 hex>x``: the letter last matters. Tests join ids with numbers
    ("txn_busy_<user>_00024"), and the card-data scan reads digit groups across "_" as one number
    (4111_1111_1111_1111 is a card); twelve hex digits that happened to be all digits, joined
    with the suffix, once passed Luhn and failed the session's sensitive-data check."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}x"


def make_token(user_id: str, kyc_level: KycLevel = KycLevel.BASIC, roles: tuple[str, ...] = ("user",)) -> str:
    return issue_token(os.environ["JWT_SECRET_KEY"], user_id, kyc_level, roles)


_KEEP = object()


def load_event(name: str, user_id: str | None = None, query: Any = _KEEP, **overrides: Any) -> dict[str, Any]:
    """A sample from events/ (the same files `sam local invoke -e` takes), optionally re-targeted
    to another user or query string (set in both the single- and multi-value forms, as API Gateway does)."""
    event = copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))
    if user_id is not None:
        event["requestContext"]["authorizer"].update(user_id=user_id, principalId=user_id)
    if query is not _KEEP:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in (query or {}).items()} or None
    event.update(overrides)
    return event


class Travel:
    """Moves every module's "now" (payments.core.clock), as recovery jobs, limits and locks see it."""

    def __init__(self) -> None:
        from payments.core import clock

        self._clock = clock
        self.offset = timedelta(0)
        clock.set_source(lambda: datetime.now(UTC) + self.offset)

    def forward(self, delta: timedelta) -> None:
        self.offset += delta

    def to(self, moment: datetime) -> None:
        """From now on the clock reads ``moment`` (and keeps running from there)."""
        self.offset = moment - datetime.now(UTC)

    def reset(self) -> None:
        self._clock.set_source(None)


@pytest.fixture
def travel() -> Iterator[Travel]:
    moved = Travel()
    try:
        yield moved
    finally:
        moved.reset()


def run_job(deployment: Any, logical_id: str) -> Any:
    """A scheduled function, invoked as EventBridge would."""
    from local.schedules import scheduled_event

    return deployment.runtime.invoke(logical_id, scheduled_event(logical_id, "us-east-1"))
