"""Where the domain events go on the local stack, in place of the deployed API destination.

An EventBridge rule on the stack's bus (in moto: its pattern matching is the one that decides)
sends every domain event to a local queue; :meth:`EventDelivery.drain` takes them from there and
prints one line per event, appends the detail to a JSON-lines file when one is set, and POSTs the
detail to a URL when one is set - the body and the API-key header the deployed API destination
sends (``EventsEndpointUrl``). As EventBridge does, an event the URL answered 401, 407, 409, 429 or
5xx (or did not answer) stays in the queue and is sent again at the next drain; any other answer
is final: it is dropped, with a line saying so, as a 400 or 404 goes to the dead-letter queue on AWS.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local.provision import Stack
from payments.events.domain import SOURCE

#: The answers an API destination sends again (besides 5xx and no answer); any other is final.
RETRIED = frozenset({401, 407, 409, 429})


@dataclass
class EventDelivery:
    stack: Stack
    region: str
    url: str | None = None
    api_key: str = ""
    api_key_header: str = "x-api-key"
    file: Path | None = None
    echo: bool = False  # print one line per event (make run)

    def __post_init__(self) -> None:
        events = boto3.client("events", region_name=self.region)
        self._sqs = boto3.client("sqs", region_name=self.region)
        bus = self.stack.physical["DomainEventBus"]
        self._queue = self._sqs.create_queue(QueueName=f"{self.stack.name}-local-events")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule = f"{self.stack.name}-local-delivery"
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "local-delivery", "Arn": queue_arn}])

    def drain(self) -> list[dict[str, Any]]:
        """Deliver what is on the bus now; the envelopes delivered by this call."""
        done: list[dict[str, Any]] = []
        while True:
            received = self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
            messages = received.get("Messages", [])
            if not messages:
                return done
            for message in messages:
                envelope = json.loads(message["Body"])
                outcome = self._deliver(envelope)
                if outcome == "retry":
                    return done  # this one and the rest wait for the next drain
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
                if outcome == "delivered":
                    done.append(envelope)

    def _deliver(self, envelope: dict[str, Any]) -> str:
        """``delivered``, ``retry`` or ``dead`` (EventBridge's API destination rules)."""
        detail = envelope["detail"]
        if self.url:
            outcome, _ = post_event(self.url, self.api_key_header, self.api_key, detail)
            if outcome != "delivered":
                return outcome
        if self.file is not None:
            with self.file.open("a", encoding="utf-8") as out:
                out.write(json.dumps(detail) + "\n")
        if self.echo:
            print(f"[event] {detail['type']} {detail['id']} user={detail['user_id']}", flush=True)
        return "delivered"


def post_event(url: str, key_header: str, key: str, detail: dict[str, Any]) -> tuple[str, int]:
    """POST one event's body as the API destination does: ``delivered``, ``retry`` (no answer,
    401, 407, 409, 429, 5xx) or ``dead`` (any other answer), with the status (0: no answer)."""
    import requests

    try:
        answer = requests.post(url, json=detail, headers={key_header: key}, timeout=5)
    except requests.RequestException as exc:
        print(f"[local] event {detail['id']} not delivered to {url}: {exc}", file=sys.stderr)
        return "retry", 0
    status = answer.status_code
    if 200 <= status < 300:
        return "delivered", status
    if status in RETRIED or status >= 500:
        print(f"[local] event {detail['id']}: {url} answered {status}; sent again later", file=sys.stderr)
        return "retry", status
    print(f"[local] event {detail['id']}: {url} answered {status}; dead letter (not sent again)", file=sys.stderr)
    return "dead", status
