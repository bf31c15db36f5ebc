"""The fault-injection harness: every external call boundary of a money flow, a fault at each,
and recovery the way production recovers.

Boundaries are the calls that leave a function: each DynamoDB write (at botocore, so pynamodb and
transactions included), each gateway call (the Mock gateway's API, which keeps what it did in its
own store), each Step Functions call. A flow is first run without faults to enumerate them; then
it is run again once per (boundary, fault):

- ``crash_before``: the function dies just before the call;
- ``crash_after``: the call takes effect and the function dies before it sees the answer;
- ``timeout_acted`` / ``timeout_not_acted`` (gateway calls): the call times out after the gateway
  did act, or before it did;
- ``refused_acted`` (gateway calls): the gateway acted, yet the answer we get is a refusal - what a
  retry's "no" looks like after the first attempt made the refund or payout. Only a lookup by our
  reference tells the two apart.

The domain events are part of every case: each round the ledger stream is read as Lambda reads it
and DomainEventsFunction publishes what committed; its ``PutEvents`` is a boundary too (crashes,
and timeouts that did or did not publish). Each case then checks exactly one event per committed
change (``tests.support.domain_events``).

"The function died" is :class:`Crash`, a ``BaseException`` nothing in the code may catch. After
the fault the world recovers as in production: clients retry with the same Idempotency-Key, the
gateway redelivers webhooks until they are answered 2xx (in a changed order, with duplicates),
the saga retries per its ASL, and the scheduled jobs run as time passes. Then the case is
checked: ledger invariants, the wallet equals what the Mock gateway really did, nothing locked or
in flight, usage within the limits.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client

from local.runtime import FunctionError
from tests.faults.saga import DIED, StepFunctions, TaskFailed

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
GATEWAY_CALLS = (
    "create_order",
    "reopen_order",
    "verify_confirmation",
    "fetch_payment",
    "capture_payment",
    "close_order",
    "refund",
    "find_refund",
    "payout",
    "payout_status",
    "find_payout",
    "dispute_status",
)
FAULTS = {
    "dynamodb": ("crash_before", "crash_after"),
    "events": ("crash_before", "crash_after", "timeout_acted", "timeout_not_acted"),
    "stepfunctions": ("crash_before", "crash_after"),
    "gateway": ("crash_before", "crash_after", "timeout_acted", "timeout_not_acted", "refused_acted"),
}
#: How far the clock moves between recovery rounds: minutes for retries and locks, then past the
#: jobs' due times, the payout and approval timeouts and the deposit expiry.
ROUNDS = (
    timedelta(0),
    timedelta(minutes=2),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=25),
    timedelta(days=2),
    timedelta(days=8),
    timedelta(days=9),
    timedelta(days=9),
)


class Crash(BaseException):
    """The function died here (timeout, out of memory, the host went away)."""


@dataclass(frozen=True)
class Boundary:
    kind: str  # dynamodb | gateway | stepfunctions
    call: str  # e.g. dynamodb:TransactWriteItems, gateway:refund
    actor: str  # who made it: client:refund, webhook:refund.processed, job:RecoveryFunction, saga:Settle

    @property
    def label(self) -> str:
        return f"{self.actor} -> {self.call}"


@dataclass
class Injector:
    """Counts boundaries; fires the one fault of a case at its index - or, for the publishing of
    the domain events (``every_publish``), at every other ``PutEvents`` call of the case."""

    target: int | None = None
    fault: str | None = None
    armed: bool = False
    seen: list[Boundary] = field(default_factory=list)
    fired: Boundary | None = None
    actor: str = "setup"
    every_publish: bool = False
    publishes: int = 0

    def around(self, kind: str, call: str, run: Callable[[], Any], acted: Callable[[], Any] | None = None) -> Any:
        if not self.armed:
            return run()
        index = len(self.seen)
        boundary = Boundary(kind, call, self.actor)
        self.seen.append(boundary)
        if self.every_publish:
            # Publishing moves no money and a failed batch is delivered again: one case per fault
            # faults every first attempt (odd calls; the retry after it goes through), so each
            # publish of the flow meets the fault - compounded - in one run instead of one each.
            if kind != "events":
                return run()
            self.publishes += 1
            if self.publishes % 2 == 0:
                return run()
        elif index != self.target:
            return run()
        self.fired = self.fired or boundary
        if self.fault == "crash_before":
            raise Crash(boundary.label)
        if self.fault == "timeout_not_acted":
            raise _unavailable(boundary, acted=False)
        result = run()
        if self.fault == "crash_after":
            raise Crash(boundary.label)
        del result
        if self.fault == "refused_acted":
            raise _refused(boundary)
        raise _unavailable(boundary, acted=True)  # timeout_acted: it happened, we never heard


def _unavailable(boundary: Boundary, acted: bool) -> Exception:
    if boundary.kind == "events":  # what botocore raises: no connection, or no answer in time
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        url = "https://events.us-east-1.amazonaws.com"
        return ReadTimeoutError(endpoint_url=url) if acted else EndpointConnectionError(endpoint_url=url)
    from payments.gateways.errors import GatewayUnavailable

    return GatewayUnavailable(f"timed out: {boundary.label}")


def _refused(boundary: Boundary) -> Exception:
    from payments.gateways.errors import GatewayRejected

    return GatewayRejected(f"refused, although it acted: {boundary.label}")


class VirtualClock:
    """The sweep's time: starts at ``start`` and moves only when recovery moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Webhook:
    body: str
    headers: dict[str, str]
    event: str


@dataclass
class ClientAction:
    """A request a client makes, with its Idempotency-Key; retried until it gets an answer."""

    name: str
    send: Callable[[], Any]  # returns a Reply
    answered: Any = None
    attempts: int = 0


class Harness:
    """One process-wide harness: the interception is installed once; cases come and go."""

    _local = threading.local()

    def __init__(self, deployment: Any, api: Any) -> None:
        self.deployment = deployment
        self.api = api
        self.injector = Injector()
        self.clock = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        self.outbox: list[Webhook] = []
        self.mock_objects: set[str] = set()  # the Mock store's keys written in this case
        self.errors: list[str] = []  # unhandled errors seen (production retries them; worth a look)
        self.sfn = StepFunctions(self._invoke_step, self.clock, self._sfn_boundary)
        from tests.support.domain_events import DomainEvents

        self.events = DomainEvents(deployment, invoke=self._invoke_publisher)

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self, monkeypatch: Any) -> Iterator[Harness]:
        from payments.core import clock
        from payments.flows import withdrawals
        from payments.gateways import mock_webhooks
        from payments.gateways.mock_gateway import MockGateway

        original_call = botocore.client.BaseClient._make_api_call
        harness = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if service == "events" and operation == "PutEvents":
                return harness.injector.around(
                    "events", "events:PutEvents", lambda: original_call(client, operation, params)
                )
            if service == "dynamodb" and operation in WRITES:
                if getattr(Harness._local, "inside_mock", False):
                    harness._note_mock_write(operation, params)
                    return original_call(client, operation, params)
                return harness.injector.around(
                    "dynamodb", f"dynamodb:{operation}", lambda: original_call(client, operation, params)
                )
            return original_call(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        for name in GATEWAY_CALLS:
            monkeypatch.setattr(MockGateway, name, self._wrap_gateway(name, getattr(MockGateway, name)))
        monkeypatch.setattr(mock_webhooks, "lambda_sender", lambda _name: self._send_webhook)
        monkeypatch.setattr(withdrawals, "_sfn", lambda: self.sfn)
        clock.set_source(self.clock)
        try:
            yield self
        finally:
            clock.set_source(None)

    def _wrap_gateway(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        harness = self

        def call(gateway: Any, *args: Any, **kwargs: Any) -> Any:
            return harness.injector.around(
                "gateway", f"gateway:{name}", lambda: harness.as_gateway(original, gateway, *args, **kwargs)
            )

        return call

    @staticmethod
    def as_gateway(run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run code of the Mock gateway itself: its store is not our boundary."""
        before = getattr(Harness._local, "inside_mock", False)
        Harness._local.inside_mock = True
        try:
            return run(*args, **kwargs)
        finally:
            Harness._local.inside_mock = before

    def _note_mock_write(self, operation: str, params: dict[str, Any]) -> None:
        key = (params.get("Item") or params.get("Key") or {}).get("pk", {}).get("S", "")
        if key.startswith("MOCK#"):
            self.mock_objects.add(key)

    def _send_webhook(self, body: str, headers: dict[str, str]) -> None:
        import json

        self.outbox.append(Webhook(body, dict(headers), json.loads(body)["event"]))

    def _sfn_boundary(self, call: str, run: Callable[[], Any]) -> Any:
        return self.injector.around("stepfunctions", f"sfn:{call}", run)

    # ------------------------------------------------------------------ actors
    @contextlib.contextmanager
    def acting_as(self, actor: str) -> Iterator[None]:
        before, self.injector.actor = self.injector.actor, actor
        try:
            yield
        finally:
            self.injector.actor = before

    def invoke(self, actor: str, function: str, event: Any) -> Any:
        """A Lambda invocation; a crash inside it is a dead invocation (None), an unhandled error
        a failed one (None, noted: production retries both, but the second may be a bug)."""
        with self.acting_as(actor):
            try:
                return self.deployment.runtime.invoke(function, event)
            except Crash:
                return None
            except FunctionError as failed:
                self.errors.append(f"{actor}: {failed.payload['errorType']}: {failed}")
                return None

    def _invoke_step(self, function: str, payload: dict[str, Any]) -> Any:
        step = function.removeprefix("Withdrawal").removesuffix("Function")
        with self.acting_as(f"saga:{step}"):
            try:
                return self.deployment.runtime.invoke(function, payload)
            except Crash as died:
                raise TaskFailed(DIED, str(died)) from None
            except FunctionError as failed:
                raise TaskFailed(failed.payload["errorType"], str(failed)) from None

    def _invoke_publisher(self, function: str, event: Any) -> Any:
        """Lambda's stream poller invoking DomainEventsFunction: a dead invocation is a failed
        batch to Lambda, delivered again at the next round."""
        with self.acting_as("stream:DomainEvents"):
            try:
                return self.deployment.runtime.invoke(function, event)
            except Crash as died:
                raise FunctionError({"errorType": "Crash", "errorMessage": str(died)}) from None

    def run_job(self, function: str) -> None:
        from local.schedules import scheduled_event

        self.invoke(f"job:{function}", function, scheduled_event(function, "us-east-1"))

    # ------------------------------------------------------------------ the world, recovering
    def deliver(self, order: str) -> None:
        """The gateway delivers what it has queued; whatever is not answered 2xx comes again."""
        pending, self.outbox = self.outbox, []
        if order == "reversed":
            pending = list(reversed(pending))
        for webhook in pending:
            reply = self._deliver_one(webhook)
            if reply is None or not 200 <= reply.status < 300:
                self.outbox.append(webhook)
            elif order == "duplicated":
                self._deliver_one(webhook)  # gateways deliver at least once

    def _deliver_one(self, webhook: Webhook) -> Any:
        with self.acting_as(f"webhook:{webhook.event}"):
            try:
                return self.api.post(
                    "WebhookMockFunction", "/webhooks/mock", None, None, raw_body=webhook.body, headers=webhook.headers
                )
            except Crash:
                return None
            except FunctionError as failed:
                self.errors.append(f"webhook {webhook.event}: {failed.payload['errorType']}: {failed}")
                return None

    def request(self, action: ClientAction) -> None:
        """A client request; a dead function or a "retry" answer leaves it for the next round."""
        action.attempts += 1
        with self.acting_as(f"client:{action.name}"):
            try:
                reply = action.send()
            except Crash:
                return
            except FunctionError as failed:
                self.errors.append(f"client {action.name}: {failed.payload['errorType']}: {failed}")
                return
        # A dead function (API Gateway's 502 without our envelope), 503 and "still in progress" say
        # "retry"; any other answer, our 502 PAY_004 included, ends the request for this client.
        retry = reply.status in (500, 503) or (reply.status == 409 and "IN_PROGRESS" in str(reply.body))
        if not retry:
            action.answered = reply

    def run(self, actions: list[ClientAction], user_id: str, drive: Callable[[], None]) -> int:
        """The flow, then rounds of recovery until nothing is left to do: ``drive`` makes the
        flow's next move (a client request, the payer, an operator at the gateway) each round.
        Returns the rounds it took."""
        orders = itertools.cycle(("in_order", "reversed", "duplicated"))
        for number, step in enumerate(ROUNDS, start=1):
            self.clock.now += step
            for _ in range(3):  # the client reacts to answers within the round
                drive()
                for action in list(actions):
                    if action.answered is None:
                        self.request(action)
            self.deliver(next(orders))
            self.sfn.advance()
            self.run_job("DepositSweeperFunction")
            self.run_job("RecoveryFunction")
            self.sfn.advance()
            self.deliver(next(orders))
            self.sfn.advance()
            self.events.collect()  # Lambda reads the ledger stream all along
            if self.quiet(actions, user_id):
                return number
        return len(ROUNDS)

    def quiet(self, actions: list[ClientAction], user_id: str) -> bool:
        from payments.store.ledger_table import TransactionItem, user_pk

        if self.outbox or any(action.answered is None for action in actions):
            return False
        if any(execution.token is None for execution in self.sfn.waiting()):
            return False
        if self.events.last_report.failures:  # the stream waits for a batch to be published
            return False
        return not any(item.gsi2pk for item in TransactionItem.query(user_pk(user_id), consistent_read=True))

    # ------------------------------------------------------------------ a case
    def start_case(self, target: int | None, fault: str | None, every_publish: bool = False) -> None:
        self.injector = Injector(target, fault, every_publish=every_publish)
        self.outbox = []
        self.mock_objects = set()
        self.errors = []
        self.clock.now += timedelta(days=3)  # a fresh day: nothing of the last case is due again

    def arm(self) -> None:
        self.injector.armed = True

    def disarm(self) -> None:
        self.injector.armed = False


def new_user() -> str:
    from tests.support.fixtures import unique_id

    return unique_id("sweep")
