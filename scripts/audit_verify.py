"""``make audit-verify``: link what is waiting (the chainer), then walk every audit chain and check
every ledger entry for its audit record (the verifier), and print what was found. Against
``make run``'s local stack (default) or a deployed one (``STACK=<stack name>``, with your AWS
credentials). Exits 1 on a broken chain, a ledger entry without its record, records left
unchained (or heads unanchored) past ``AUDIT_CHAIN_LAG_MINUTES``. A table too large for one run of
the verifier is walked in several, each continuing from the last.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from reconcile import _deployed, _local


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit-verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local stack (make run)")
    parser.add_argument("--stack-name", help="a deployed stack instead of the local one")
    parser.add_argument("--region")
    args = parser.parse_args(argv)

    def job(logical_id: str) -> Callable[[], dict[str, Any]]:
        if args.stack_name:
            return _deployed(args.stack_name, args.region, logical_id)
        return lambda: _local(args.url, logical_id)

    chained = job("AuditChainFunction")()
    print(f"chained {chained['linked']} record(s) into {chained['chains']} chain(s), anchored {chained['anchored']}")
    verify = job("AuditVerifyFunction")
    found = verify()
    while not found["pass_complete"]:  # a large table takes several runs, each from the cursor
        more = verify()
        for name in ("broken", "missing"):
            found[name].update(more[name])
        found.update(
            chains=found["chains"] + more["chains"],
            records=found["records"] + more["records"],
            unchained_overdue=more["unchained_overdue"],
            pass_complete=more["pass_complete"],
        )
    for chain, problem in sorted(found["broken"].items()):
        print(f"BROKEN   {chain}: {problem}")
    for user_id, problems in sorted(found["missing"].items()):
        for problem in problems:
            print(f"MISSING  {user_id}: {problem}")
    if found["unchained_overdue"]:
        print(f"LAGGING  {found['unchained_overdue']} record(s) still unchained past the bound")
    print(
        f"verified {found['chains']} chain(s), {found['records']} record(s): "
        f"{len(found['broken'])} broken, {sum(len(p) for p in found['missing'].values())} entries without a record"
    )
    problems = found["broken"] or found["missing"] or found["unchained_overdue"]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
