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


def test_the_front_answers_a_kept_alive_connection_without_waiting_for_an_ack() -> None:
    """Headers and body go out in two writes; with Nagle's algorithm on, the body of every answer
    after the first on a kept-alive connection waited ~40 ms for the client's delayed ACK (found
    when fuzzing: most of each request's time)."""
    import http.client
    import time

    from local.front import make_server

    class _Gateway:
        def handle(self, *_: Any) -> tuple[int, dict[str, str], bytes]:
            return 200, {"Content-Type": "application/json"}, b"{}"

    server = make_server(_Gateway(), "127.0.0.1", 0, quiet=True)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        started = time.monotonic()
        for _ in range(20):
            connection.request("GET", "/health")
            assert connection.getresponse().read() == b"{}"
        assert time.monotonic() - started < 0.4  # 20 x 40 ms would be 0.8 s
    finally:
        server.shutdown()
        server.server_close()
