"""``make faults``: run the fault sweep alone (two workers) and print what it covered.

Prints, per flow, the boundaries enumerated and the cases run (flow x boundary x fault) with
their failures, then the cases by (boundary kind, fault). Exits non-zero when any case failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fault-sweep-") as folder:
        env = {**os.environ, "FAULT_SWEEP_RESULTS": folder}
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "tests/faults",
            *sys.argv[1:],
        ]
        status = subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - our own tests
        print(summary(Path(folder)))
    return status


def summary(folder: Path) -> str:
    lines = [
        "",
        "== Fault sweep: flow x boundary x fault ==",
        f"  {'flow':28s} {'boundaries':>10s} {'cases':>6s} {'failed':>6s}",
    ]
    totals: Counter[str] = Counter()
    by_fault: Counter[tuple[str, str]] = Counter()
    for path in sorted(folder.glob("*.json")):
        cases = [case for case in json.loads(path.read_text()) if case["index"] is not None]
        failed = sum(1 for case in cases if case["problems"])
        boundaries = len({case["index"] for case in cases})
        lines.append(f"  {path.stem:28s} {boundaries:>10d} {len(cases):>6d} {failed:>6d}")
        totals.update(boundaries=boundaries, cases=len(cases), failed=failed)
        # A case whose fault never fired has no boundary kind: counted as "unfired", not dropped.
        by_fault.update((case["kind"] or "unfired", case["fault"]) for case in cases)
        totals.update(faulted=sum(case.get("faulted", 1) for case in cases))
    lines.append(f"  {'total':28s} {totals['boundaries']:>10d} {totals['cases']:>6d} {totals['failed']:>6d}")
    lines.append(f"  faults fired: {totals['faulted']} (each events case faults every other PutEvents of its flow)")
    lines.append(
        "  by boundary and fault: "
        + ", ".join(f"{kind}/{fault} {count}" for (kind, fault), count in sorted(by_fault.items()))
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
