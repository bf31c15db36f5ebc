"""The fault sweep: for every money flow, every external call boundary, every fault - then
recovery as production runs it, and the checks of :func:`tests.faults.flows.problems`.

``make faults`` runs it alone and prints the number of cases and failures; ``make test`` runs it
too (in its own process, so its moto holds only the sweep's records).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.faults.flows import FLOWS, Case, Flow, problems
from tests.faults.harness import FAULTS, Harness, new_user

pytestmark = pytest.mark.faults


@dataclass
class Result:
    flow: str
    index: int | None
    fault: str | None
    boundary: str | None
    kind: str | None
    call: str | None
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rounds: int = 0
    faulted: int = 1  # calls the fault fired at (every other publish, for the events cases)


@pytest.fixture(scope="module")
def harness(aws: Any) -> Iterator[Harness]:
    from payments.guards import risk
    from tests.support.api import InProcessApi

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAY_ORDER", "mock")
        patch.setenv("CIRCUIT_FAILURE_THRESHOLD", "1000000")
        # The flows make the same movements again and again: the fraud engine is not under test.
        patch.setattr(risk, "assess", lambda *args, **kwargs: risk.Assessment(risk.Decision.ALLOW, 0, ()))
        sweep = Harness(aws, InProcessApi(aws))
        with sweep.installed(patch):
            yield sweep


def run_case(
    harness: Harness, flow: Flow, index: int | None, fault: str | None, every_publish: bool = False
) -> tuple[Result, list[Any]]:
    harness.start_case(index, fault, every_publish)
    case = Case(new_user(), harness)
    flow.setup(case)
    harness.arm()
    try:
        rounds = harness.run(case.actions, case.user_id, lambda: flow.drive(case))
    finally:
        harness.disarm()
    fired = harness.injector.fired
    result = Result(
        flow.name,
        index,
        fault,
        fired.label if fired else None,
        fired.kind if fired else None,
        fired.call if fired else None,
        problems(case),
        list(harness.errors),
        rounds,
        (harness.injector.publishes + 1) // 2 if every_publish else int(fired is not None),
    )
    if index is not None and fired is None:
        result.problems.append("the fault never fired: the flow took another path than when it was recorded")
    return result, list(harness.injector.seen)


@pytest.mark.parametrize("flow_name", sorted(FLOWS))
def test_every_fault_at_every_boundary_is_recovered(
    harness: Harness, flow_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if flow_name == "withdrawal_admin_approval":
        monkeypatch.setenv("WITHDRAWAL_REVIEW_AMOUNT", "100.00")
    flow = FLOWS[flow_name]
    baseline, boundaries = run_case(harness, flow, None, None)
    assert baseline.problems == [], f"{flow_name} fails without any fault: {baseline.problems}"
    results = [baseline]
    for index, boundary in enumerate(boundaries):
        if boundary.kind == "events":
            continue  # below: every publish of the flow in one case per fault
        for fault in FAULTS[boundary.kind]:
            results.append(run_case(harness, flow, index, fault)[0])
    first_publish = next(index for index, boundary in enumerate(boundaries) if boundary.kind == "events")
    for fault in FAULTS["events"]:
        results.append(run_case(harness, flow, first_publish, fault, every_publish=True)[0])
    _write(flow_name, results)
    failures = [result for result in results if result.problems]
    report = "\n".join(f"#{r.index} {r.fault} at {r.boundary}: {r.problems}" for r in failures[:15])
    assert not failures, f"{len(failures)} of {len(results) - 1} cases of {flow_name} failed:\n{report}"


def _write(flow_name: str, results: list[Result]) -> None:
    """Each flow's cases, for ``make faults`` to count across the xdist workers."""
    folder = os.environ.get("FAULT_SWEEP_RESULTS")
    if not folder:
        return
    path = Path(folder) / f"{flow_name}.json"
    path.write_text(json.dumps([asdict(result) for result in results], indent=1))


def test_the_sweep_catches_a_refund_given_back_on_a_timeout(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep's own proof: re-introduce the review's first defect (a refund whose gateway call
    timed out is given back as if it had been refused) and its gateway-timeout cases must fail."""
    from payments.flows import refunds

    real_send = refunds.send

    def send_that_guesses(refund: Any, deadline: Any) -> str:
        outcome = real_send(refund, deadline)
        if outcome == "unknown":
            refunds.reverse(refund, "timed out, so it failed")  # the defect: acting on a guess
        return outcome

    monkeypatch.setattr(refunds, "send", send_that_guesses)
    flow = FLOWS["refund"]
    _, boundaries = run_case(harness, flow, None, None)
    timeouts = [
        run_case(harness, flow, index, "timeout_acted")[0]
        for index, boundary in enumerate(boundaries)
        if boundary.call == "gateway:refund"
    ]
    assert timeouts
    assert all(result.problems for result in timeouts), "the sweep missed a refund given back on a guess"


def test_the_sweep_catches_a_payout_released_on_a_refusal_it_did_not_check(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second review's first defect: a "no" to a payout that the gateway had in fact made,
    trusted without asking by our reference. Its refused-after-acting cases must fail."""
    from payments.gateways.mock_gateway import MockGateway

    monkeypatch.setattr(MockGateway, "find_payout", lambda self, reference, since: None)
    flow = FLOWS["withdrawal_paid"]
    _, boundaries = run_case(harness, flow, None, None)
    refused = [
        run_case(harness, flow, index, "refused_acted")[0]
        for index, boundary in enumerate(boundaries)
        if boundary.call == "gateway:payout"
    ]
    assert refused
    assert all(result.problems for result in refused), "the sweep missed a payout released on an unchecked no"


def test_the_sweep_catches_events_lost_when_publishing_fails(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A publisher that reports a failed PutEvents as done skips the batch's events for good:
    the events cases (every publish faulted) must see the committed changes without their event."""
    from payments.events import publisher

    real_put = publisher._put

    def put_and_forget(client: Any, events: list[Any]) -> None:
        real_put(client, events)  # the defect: whatever PutEvents said, the batch counts as published

    monkeypatch.setattr(publisher, "_put", put_and_forget)
    flow = FLOWS["deposit_declined"]
    _, boundaries = run_case(harness, flow, None, None)
    first = next(index for index, boundary in enumerate(boundaries) if boundary.kind == "events")
    lost = run_case(harness, flow, first, "timeout_not_acted", every_publish=True)[0]
    assert any("without their event" in problem for problem in lost.problems), lost.problems
