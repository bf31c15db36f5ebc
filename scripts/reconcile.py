"""``make reconcile``: run the reconciliation job until its pass through the ledger ends, and
print what it found. Against ``make run``'s local stack (default) or a deployed one
(``STACK=<stack name>``, with your AWS credentials). Exits 1 when a wallet disagrees with its
ledger or in-flight money is past its bound; the reports are also kept in the ops table.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from typing import Any


def _local(url: str) -> dict[str, Any]:
    endpoint = f"{url.rstrip('/')}/_local/schedules/ReconciliationFunction"
    request = urllib.request.Request(endpoint, method="POST")  # noqa: S310 - the local stack
    with urllib.request.urlopen(request, timeout=900) as response:  # noqa: S310 - the local stack
        return json.loads(response.read())


def _deployed(stack: str, region: str | None) -> Any:
    import boto3

    session = boto3.Session(region_name=region)
    function = session.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="ReconciliationFunction"
    )["StackResourceDetail"]["PhysicalResourceId"]
    client = session.client("lambda")

    def invoke() -> dict[str, Any]:
        answer = client.invoke(FunctionName=function, Payload=b"{}")
        payload = json.loads(answer["Payload"].read())
        if answer.get("FunctionError"):
            raise RuntimeError(f"the reconciliation function failed: {payload}")
        return payload

    return invoke


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make reconcile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local stack (make run)")
    parser.add_argument("--stack-name", help="a deployed stack instead of the local one")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
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
