"""``make reconcile``: run the reconciliation job until its pass through the ledger ends, and
print what it found. Against ``make run``'s local stack (default) or a deployed one
(``STACK=<stack name>``, with your AWS credentials). Exits 1 when a wallet disagrees with its
ledger or in-flight money is past its bound; the reports are also kept in the ops table.

``--gateways --since YYYY-MM-DD --until YYYY-MM-DD`` (``make reconcile-gateways``) runs the
stack's ``GatewayReconciliationFunction`` for ``[since, until)`` (UTC days; ``until`` not included)
instead: our completed money records matched with the gateways' own records
(``payments.flows.gateway_reconciliation``). Exits 1 when anything differs or a gateway could not be
asked everything; the report is kept in the ops table too.

``--replay-events`` (``make replay-events``) has the stack's ``DomainEventsFunction`` publish again
the ledger stream ranges Lambda gave up on (``DomainEventsFailuresQueue``, docs/events/): the same
event ids, so consumers skip what they already had. Exits 1 when a range could not be published
or the stream no longer has it.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from typing import Any


def _local(url: str, function: str = "ReconciliationFunction", detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a scheduled function of ``make run``'s stack now (``detail`` as its event's) and return
    its answer."""
    endpoint = f"{url.rstrip('/')}/_local/schedules/{function}"
    data = json.dumps(detail).encode() if detail else None
    request = urllib.request.Request(endpoint, data=data, method="POST")  # noqa: S310 - the local stack
    with urllib.request.urlopen(request, timeout=900) as response:  # noqa: S310 - the local stack
        return json.loads(response.read())


def _deployed(
    stack: str, region: str | None, logical_id: str = "ReconciliationFunction", event: dict[str, Any] | None = None
) -> Any:
    """A callable invoking a function of a deployed stack (your credentials) and returning its answer."""
    import boto3

    session = boto3.Session(region_name=region)
    function = session.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    client = session.client("lambda")

    def invoke() -> dict[str, Any]:
        answer = client.invoke(FunctionName=function, Payload=json.dumps(event or {}).encode())
        payload = json.loads(answer["Payload"].read())
        if answer.get("FunctionError"):
            raise RuntimeError(f"{logical_id} failed: {payload}")
        return payload

    return invoke


def _gateways(args: argparse.Namespace) -> int:
    detail = {"since": args.since, "until": args.until}
    if args.stack_name:
        report = _deployed(args.stack_name, args.region, "GatewayReconciliationFunction", {"detail": detail})()
    else:
        report = _local(args.url, "GatewayReconciliationFunction", detail)
    for name, part in report["gateways"].items():
        state = "complete" if part["complete"] else f"INCOMPLETE ({part['error']})"
        matched = ", ".join(f"{count} {kind.lower()}" for kind, count in part["matched"].items())
        print(f"{name}: {state}; matched {matched}")
        for found in part["differences"]:
            ours = f"{found['txn_id']} ({found['user_id']}, {found['our_status']})" if found["txn_id"] else "-"
            amounts = (
                f"ours {found['our_amount']} {found['our_currency']}, "
                f"gateway {found['gateway_amount']} {found['gateway_currency']}"
            )
            kind, category = found["kind"].lower(), found["category"].upper()
            print(f"  {category:<16} {kind:<7} {ours} gateway {found['gateway_id']}: {amounts}")
            print(f"  {'':<16} {found['detail']}")
    differ = sum(report["totals"].values())
    print(f"{args.since}..{args.until}: {differ} differ; complete: {report['complete']}")
    return 0 if report["complete"] and not differ else 1


def _replay_events(args: argparse.Namespace) -> int:
    if args.stack_name:
        report = _deployed(args.stack_name, args.region, "DomainEventsFunction", {"replay": True})()
    else:
        report = _local(args.url, "DomainEventsFunction")
    print(f"published again: {report['ranges']} range(s), {report['records']} stream record(s)")
    for label in report["gone"]:
        print(f"GONE     {label}: the stream no longer has it; the ledger and audit trail say what happened")
    if report["stopped"]:
        print(f"STOPPED  at {report['stopped']}: publishing failed again (see the function's log)")
    return 1 if report["gone"] or report["stopped"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local stack (make run)")
    parser.add_argument("--stack-name", help="a deployed stack instead of the local one")
    parser.add_argument("--region")
    parser.add_argument("--gateways", action="store_true", help="reconcile against the gateways' records instead")
    parser.add_argument("--since", help="with --gateways: first UTC day, YYYY-MM-DD")
    parser.add_argument("--until", help="with --gateways: the UTC day after the last, YYYY-MM-DD (not included)")
    parser.add_argument("--replay-events", action="store_true", help="publish again the domain events given up on")
    args = parser.parse_args(argv)
    if args.replay_events:
        return _replay_events(args)
    if args.gateways:
        if not (args.since and args.until):
            parser.error("--gateways needs --since and --until")
        return _gateways(args)
    run_once = _deployed(args.stack_name, args.region) if args.stack_name else (lambda: _local(args.url))
    differences: dict[str, list[str]] = {}
    wallets = runs = 0
    while True:
        run = run_once()
        runs += 1
        wallets += run["wallets"]
        differences.update(run["differences"])
        if run["pass_complete"]:
            break
    overdue = {kind: count for kind, count in run["overdue"].items() if count}
    for user_id, problems in sorted(differences.items()):
        print(f"DIFFERS  {user_id}: {'; '.join(problems)}")
    for kind, count in sorted(overdue.items()):
        print(f"OVERDUE  {count} {kind.lower()} record(s) in flight past their bound")
    print(f"reconciled {wallets} wallets in {runs} run(s): {len(differences)} differ, {sum(overdue.values())} overdue")
    return 1 if differences or overdue else 0


if __name__ == "__main__":
    sys.exit(main())
