"""The local stack runs many functions in one process: one function's request must never see
another's (Powertools keeps the current event on a class, which is per process)."""

import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from local.runtime import isolate_powertools_resolvers


def _event(path: str) -> dict[str, Any]:
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {}, "requestContext": {}}


def test_concurrent_resolvers_keep_their_own_event() -> None:
    isolate_powertools_resolvers()
    first, second = APIGatewayRestResolver(), APIGatewayRestResolver()
    first_reading, second_done = threading.Event(), threading.Event()
    seen: dict[str, str] = {}

    @first.get("/first")
    def slow() -> dict[str, str]:
        first_reading.set()
        second_done.wait(5)  # the other function resolves its request meanwhile
        seen["first"] = first.current_event.path
        return {}

    @second.get("/second")
    def fast() -> dict[str, str]:
        seen["second"] = second.current_event.path
        return {}

    worker = threading.Thread(target=first.resolve, args=(_event("/first"), None))
    worker.start()
    first_reading.wait(5)
    second.resolve(_event("/second"), None)
    second_done.set()
    worker.join(5)
    assert seen == {"first": "/first", "second": "/second"}
