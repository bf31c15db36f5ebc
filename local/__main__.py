"""``python -m local`` (``make run``): serve the whole API on http://127.0.0.1:3000 with moto as AWS."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from local import stack as local_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "0")))
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME", local_stack.DEFAULT_STACK_NAME))
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--no-schedules", action="store_true", help="fire scheduled functions only on demand")
    parser.add_argument(
        "--events-url",
        default=os.environ.get("LOCAL_EVENTS_URL", ""),
        help="POST each domain event's detail here, as the deployed EventsEndpointUrl gets it",
    )
    parser.add_argument(
        "--events-file",
        default=os.environ.get("LOCAL_EVENTS_FILE", ""),
        help="append each domain event's detail to this JSON-lines file",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter override, e.g. --parameter PayoutTimeoutSeconds=10 (repeatable)",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    os.environ.update(local_stack.fake_aws_environment())
    moto_server, moto_url = local_stack.start_moto(args.host, args.moto_port)
    os.environ["AWS_ENDPOINT_URL"] = moto_url
    overrides = dict(item.split("=", 1) for item in args.parameter)
    deployment = local_stack.deploy(args.stack_name, endpoint_url=moto_url, parameters=overrides)
    scheduler = local_stack.make_scheduler(deployment)
    if not args.no_schedules:
        scheduler.start()
    events = _start_domain_events(deployment, args)
    gateway = local_stack.make_gateway(deployment, scheduler)
    server = local_stack.front.make_server(gateway, args.host, args.port, args.quiet)
    api_url = f"http://{args.host}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="api", daemon=True).start()

    info = {
        "api": api_url,
        "moto": moto_url,
        "stack": args.stack_name,
        "resources": deployment.stack.physical,
        "startup_seconds": round(time.monotonic() - started, 2),
    }
    print(f"LOCAL_STACK {json.dumps(info)}", flush=True)
    print(
        f"\nLocal stack ready: {api_url} (moto at {moto_url}, started in {info['startup_seconds']} s)\n"
        f"  curl {api_url}/health\n"
        "  TOKEN=$(make -s token USER=alice KYC=BASIC)\n"
        f'  curl -H "Authorization: Bearer $TOKEN" {api_url}/api/v1/payments/wallet/balance\n'
        f"  curl -X POST {api_url}/_local/schedules/DepositSweeperFunction   # run a scheduled job now\n"
        "Ctrl-C stops it.",
        flush=True,
    )

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    print("\nStopping the local stack...", file=sys.stderr, flush=True)
    scheduler.stop()
    events.set()
    server.shutdown()
    moto_server.shutdown()
    return 0


def _start_domain_events(deployment: local_stack.Deployment, args: argparse.Namespace) -> threading.Event:
    """Lambda's ledger stream poller and the local delivery of the bus, every half second."""
    from pathlib import Path

    poller = local_stack.make_stream_poller(deployment)
    delivery = local_stack.make_event_delivery(
        deployment,
        url=args.events_url or None,
        api_key=os.environ.get("LOCAL_EVENTS_API_KEY", ""),
        file=Path(args.events_file) if args.events_file else None,
        echo=not args.quiet,
    )
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            try:
                poller.drain()
                delivery.drain()
            except Exception as exc:  # noqa: BLE001 - keep delivering; say what went wrong
                print(f"[local] domain events: {exc!r}", file=sys.stderr, flush=True)

    threading.Thread(target=loop, name="domain-events", daemon=True).start()
    return stop


if __name__ == "__main__":
    raise SystemExit(main())
