"""Schema fuzzing: schemathesis generates requests for every operation of ``docs/openapi.json``
and sends them over real HTTP to the local stack, so the front's own answers (401 from the
authorizer, API Gateway's gateway responses) and dropped connections are covered as well as the
handlers.

Every answer must be: not a server error (5xx), a status the document lists for the operation
(explicitly: its ``default`` stands for API Gateway's answers to a function that failed, which is
what the fuzzer is looking for), a content type, headers and a body the document describes, and an
error code listed for its status (:mod:`tests.support.contract`). A request the server closes
without an answer is a failure too (it is sent once: no transport retry hides a drop).

The cases: valid data (positive) and data that breaks the document (negative) for each operation,
with the token of a fresh user, an admin's, none, or a bad one (malformed, forged, expired, another
scheme); generated ``Idempotency-Key`` headers; unsigned or wrongly signed webhooks. Half the valid
cases take the user's real ids (a paid deposit, a method, an unpaid order, a withdrawal) instead of
generated ones, so they reach the money flows and not only "not found". Generation is derandomized
(the same cases every run) and the count is fixed by ``max_examples``, which bounds the time; the
number of cases run is asserted, recorded and printed in the session summary (tests/support).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import core as hypothesis_core
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.vendor import pretty
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payments.core.caller import KycLevel
from payments.http.auth import issue_token
from tests.support import contract
from tests.support.fixtures import LocalStack, make_token, unique_id

#: Acceptance (issue 12): zero server errors, dropped connections and schema violations over at
#: least this many generated cases.
MIN_CASES = 2_000
#: Examples per operation and mode. An operation with few distinct inputs (no parameters) ends
#: sooner: Hypothesis stops once it has tried them all.
POSITIVE_EXAMPLES = 97
NEGATIVE_EXAMPLES = 33
#: The operations are split between this many tests, which -n spreads over its workers.
SHARDS = 2
REQUEST_TIMEOUT = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Who calls: mostly the fresh user, sometimes an admin, else a token the authorizer refuses.
CALLERS = ("user",) * 9 + ("admin",) * 3 + ("none", "malformed", "forged", "expired", "basic")
FAILURES_SHOWN = 15

SCHEMA = schemathesis.openapi.from_path(contract.DOCUMENT)


def _authorization(caller: str, user_id: str) -> dict[str, str]:
    tokens = {
        "user": lambda: f"Bearer {make_token(user_id)}",
        "admin": lambda: f"Bearer {make_token(user_id, KycLevel.BASIC, ('user', 'admin'))}",
        "malformed": lambda: "Bearer not.a.jwt",
        "forged": lambda: f"Bearer {issue_token('not-the-stack-secret-0123456789abcdef', user_id)}",
        "expired": lambda: f"Bearer {issue_token(os.environ['JWT_SECRET_KEY'], user_id, ttl=timedelta(minutes=-5))}",
        "basic": lambda: "Basic dXNlcjpwYXNz",
    }
    return {} if caller == "none" else {"Authorization": tokens[caller]()}


@contextmanager
def _hypothesis_left_as_found() -> Iterator[None]:
    """schemathesis patches Hypothesis process-wide when it first builds a strategy (a printer
    that prints no values, a larger buffer). The property tests that run after this one in the
    same worker must not inherit that: the patches are undone here (its pytest plugin, which
    patches at start-up, is off: ``-p no:schemathesis`` in pyproject.toml)."""
    from hypothesis import core
    from hypothesis.internal import entropy
    from hypothesis.internal.conjecture import engine
    from hypothesis.strategies._internal import collections
    from hypothesis.strategies._internal import core as strategies_core
    from schemathesis.generation import hypothesis as schemathesis_hypothesis

    patched = [
        (core, "RepresentationPrinter"),
        (core, "BUFFER_SIZE"),
        (engine, "BUFFER_SIZE"),
        (collections, "BUFFER_SIZE"),
        (entropy, "register_random"),
        (strategies_core, "is_first_param_referenced_in_function"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name in patched]
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
        schemathesis_hypothesis.setup._is_patched = False  # type: ignore[attr-defined]


API = "/api/v1/payments"


def _known_resources(api: str, user_id: str) -> dict[str, str]:
    """Real resources of the fuzzing user, by the name of the field or path parameter that takes
    them: half the valid cases use these instead of a generated id, so they reach past "not
    found" into the flows (a completed deposit to refund, a method to pay or withdraw with, an
    order still to be paid, a withdrawal under way)."""
    headers = {"Authorization": f"Bearer {make_token(user_id)}"}

    def call(method: str, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        reply = requests.request(method, f"{api}{path}", json=body, headers=headers, timeout=REQUEST_TIMEOUT)
        assert reply.status_code == status, reply.text
        return reply.json()

    def method() -> str:
        created = call("POST", f"{API}/methods", {"type": "CARD", "gateway": "mock", "token": "tok_mock_success"})
        return created["payment_method"]["id"]

    def deposit(method_id: str, amount: str) -> dict[str, Any]:
        return call("POST", f"{API}/deposits/initiate", {"amount": amount, "payment_method_id": method_id})

    method_id = method()
    paid = deposit(method_id, "900.00")
    call("POST", f"/mock-gateway/checkout/{paid['order_id']}/pay", {"action": "pay"})
    unpaid = deposit(method_id, "300.00")
    withdrawal = call("POST", f"{API}/withdrawals/initiate", {"amount": "100.00", "payment_method_id": method_id}, 202)
    return {
        "payment_method_id": method_id,
        "method_id": method(),  # DELETE takes this one: the other stays for the money routes
        "transaction_id": paid["transaction_id"],
        "order_id": unpaid["order_id"],
        "withdrawal_id": withdrawal["withdrawal_id"],
        "user_id": user_id,
    }


def _use_known(case: Any, known: dict[str, str]) -> None:
    """The case with every id it takes replaced by the real one."""
    if isinstance(case.body, dict) and any(name in case.body for name in known):
        case.body = {name: known.get(name, value) for name, value in case.body.items()}
    if case.path_parameters and any(name in case.path_parameters for name in known):
        case.path_parameters = {name: known.get(name, value) for name, value in case.path_parameters.items()}


class _Run:
    """What the fuzzing did: cases sent, statuses seen, failures (with a curl to reproduce)."""

    def __init__(self, api: str, user_id: str) -> None:
        self.api = api
        self.user_id = user_id
        self.known = _known_resources(api, user_id)
        self.session = requests.Session()
        self.cases = 0
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.failures: list[str] = []

    def send(self, case: Any, caller: str) -> None:
        operation = case.operation
        headers = _authorization(caller, self.user_id) if operation.definition.raw.get("security") else {}
        kwargs = case.as_transport_kwargs(base_url=self.api, headers=headers)
        self.cases += 1
        try:
            response = self.session.request(**kwargs, timeout=REQUEST_TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            self._fail(case, headers, f"no answer ({type(exc).__name__}: {exc})")
            self.session = requests.Session()
            return
        self.statuses[(operation.label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)
        except FailureGroup as group:
            self._fail(case, headers, f"[{response.status_code}] " + "; ".join(f.title for f in group.exceptions))
            return
        try:
            body = response.json() if "json" in response.headers.get("Content-Type", "") else None
            contract.check(operation.method.upper(), operation.path, response.status_code, body)
        except (AssertionError, ValueError) as exc:
            self._fail(case, headers, f"[{response.status_code}] {exc}")

    def _fail(self, case: Any, headers: dict[str, str], what: str) -> None:
        self.failures.append(
            f"{case.operation.label}: {what}\n    {case.as_curl_command(headers=headers, base_url=self.api)}"
        )

    def fuzz(self, operation: Any, mode: GenerationMode, max_examples: int) -> None:
        secured = bool(operation.definition.raw.get("security"))

        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
            print_blob=False,
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            caller=st.sampled_from(CALLERS if secured else ("none",)),
            known=st.booleans() if mode is GenerationMode.POSITIVE else st.just(False),
        )
        def run(case: Any, caller: str, known: bool) -> None:
            if known:
                _use_known(case, self.known)
            self.send(case, caller)

        try:
            run()
        except Unsatisfiable:
            # Nothing in the operation can be made invalid (a path parameter that takes any
            # string, no body): there is no negative case to send.
            if mode is not GenerationMode.NEGATIVE:
                raise


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda shard: f"shard{shard + 1}of{SHARDS}")
def test_every_operation_answers_what_the_document_says(
    local_stack: LocalStack, record_property: pytest.RecordProperty, shard: int
) -> None:
    """One shard of the operations: under ``-n 2`` the shards run side by side, each against its
    worker's stack, and each sends its share of the cases (so together at least MIN_CASES)."""
    run = _Run(local_stack.api, unique_id("fuzz"))
    started = time.monotonic()
    operations = [result.ok() for result in SCHEMA.get_all_operations()][shard::SHARDS]
    with _hypothesis_left_as_found():
        for operation in operations:
            run.fuzz(operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
            run.fuzz(operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    elapsed = time.monotonic() - started
    assert hypothesis_core.RepresentationPrinter is pretty.RepresentationPrinter, "Hypothesis left patched"
    record_property("fuzz_cases", run.cases)
    record_property("fuzz_operations", len(operations))
    record_property("fuzz_seconds", round(elapsed, 1))
    print(f"schema fuzzing: {run.cases} cases over {len(operations)} operations in {elapsed:.1f} s")
    for (label, status), count in sorted(run.statuses.items()):
        print(f"  {label} -> {status}: {count}")
    shown = "\n".join(run.failures[:FAILURES_SHOWN])
    assert not run.failures, f"{len(run.failures)} of {run.cases} cases failed:\n{shown}"
    assert run.cases >= MIN_CASES // SHARDS
