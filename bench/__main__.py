"""`make bench` - the performance figures of DESIGN.md section 8, measured in one run.

1. Cold start: the import time of each function's handler module (everything compiled to .pyc,
   as the layers ship) as a ratio to ``import boto3`` measured the same way in the same run.
   Each figure is the best of several fresh interpreters; the machine is noisy, ratios are not.
2. AWS calls per request: every botocore API call a handler makes, counted under moto with the
   template's resources, on the first (cold) and a later (warm) request.
3. Layer sizes (unzipped), built with the layers' own Makefiles for arm64/python3.13.
4. Cost per million requests from those counts and AWS list prices (us-east-1, arm64).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = 7

_IMPORT_PROBE = """
import importlib.util, sys, time
path = sys.argv[1]
started = time.perf_counter()
if path == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
print((time.perf_counter() - started) * 1000)
"""


def _import_ms(target: str, env: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, target], env=env, capture_output=True, text=True, check=True
        )
        best = min(best, float(out.stdout.strip()))
    return best


def cold_starts(functions: dict[str, Any]) -> list[dict[str, Any]]:
    for folder in (sysconfig.get_paths()["purelib"], REPO / "shared", REPO / "functions"):
        compileall.compile_dir(str(folder), quiet=1)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "shared"),
        "LEDGER_TABLE_NAME": "bench-ledger",
        "POWERTOOLS_SERVICE_NAME": "payments",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    baseline = _import_ms("boto3", env)
    rows = [{"function": "import boto3 (reference)", "ms": baseline, "ratio": 1.0}]
    for logical_id, spec in sorted(functions.items()):
        module = spec.code_dir / f"{spec.handler.rpartition('.')[0]}.py"
        ms = _import_ms(str(module), env)
        rows.append({"function": logical_id, "ms": ms, "ratio": ms / baseline})
    return rows


class _CallCounter:
    """Counts botocore API calls (service, operation) made through any client."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> _CallCounter:
        from botocore.client import BaseClient

        self._original = BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            counter.calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
            return counter._original(client, operation, params)

        BaseClient._make_api_call = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def aws_calls() -> list[dict[str, Any]]:
    os.environ.update(
        {"LEDGER_TABLE_NAME": "bench-ledger", "JWT_SECRET_KEY": "bench-secret-0123456789abcdef0123456789"}
    )
    from local.stack import configure_moto, deploy, fake_aws_environment

    os.environ.update(fake_aws_environment())
    from moto import mock_aws

    configure_moto()
    with mock_aws():
        deployment = deploy("bench")
        from payments.auth import issue_token
        from payments.ledger import Ledger, NewTransaction, TransactionStatus, TransactionType

        ledger = Ledger()
        for n in range(5):
            ledger.credit(
                "bench_user",
                1000,
                NewTransaction(f"txn_{n}", TransactionType.DEPOSIT, TransactionStatus.COMPLETED),
            )
        events = json.loads((REPO / "events" / "wallet_balance.json").read_text())
        events["requestContext"]["authorizer"]["user_id"] = "bench_user"
        transactions = json.loads((REPO / "events" / "wallet_transactions.json").read_text())
        transactions["requestContext"]["authorizer"]["user_id"] = "bench_user"
        authorizer = json.loads((REPO / "events" / "authorizer.json").read_text())
        authorizer["authorizationToken"] = f"Bearer {issue_token(os.environ['JWT_SECRET_KEY'], 'bench_user')}"
        cases = [
            ("GET /wallet/balance", "WalletBalanceFunction", events),
            ("GET /wallet/transactions", "WalletTransactionsFunction", transactions),
            ("GET /health", "HealthFunction", json.loads((REPO / "events" / "health.json").read_text())),
            ("authorizer (per token per 300 s)", "AuthorizerFunction", authorizer),
        ]
        rows = []
        for label, function, event in cases:
            counts = []
            for _ in range(2):
                with _CallCounter() as counter:
                    deployment.runtime.invoke(function, json.loads(json.dumps(event)))
                counts.append(dict(counter.calls))
            rows.append({"request": label, "cold": counts[0], "warm": counts[1]})
        return rows


def layer_sizes() -> list[dict[str, Any]]:
    lambda_python = shutil.which("python3.13")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in (
            ("SharedLayer", REPO / "shared"),
            ("DependenciesLayer", REPO / "layers" / "dependencies"),
        ):
            target = Path(tmp) / name
            env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0:system")}
            make = ["make", "-s", "-C", str(folder), f"build-{name}", f"ARTIFACTS_DIR={target}"]
            if lambda_python is None:
                make.append(f"LAMBDA_PYTHON={sys.executable}")
            result = subprocess.run(make, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                rows.append({"layer": name, "error": result.stderr.strip().splitlines()[-1:]})
                continue
            size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
            rows.append({"layer": name, "mib": size / 2**20})
    return rows


# us-east-1 list prices (November 2026): REST API, Lambda arm64, DynamoDB on-demand.
API_GATEWAY_PER_M = 3.50
LAMBDA_REQUEST_PER_M = 0.20
LAMBDA_ARM_GB_SECOND = 0.0000133334
DDB_READ_UNIT_PER_M = 0.125
DDB_WRITE_UNIT_PER_M = 0.625
ASSUMED_DURATION_S = 0.030
MEMORY_GB = 0.5


def cost_per_million(row: dict[str, Any]) -> float:
    reads = sum(n for call, n in row["warm"].items() if call.split(":")[1] in ("GetItem", "Query"))
    writes = sum(n for call, n in row["warm"].items() if "Write" in call or call.endswith("PutItem"))
    lambda_cost = LAMBDA_REQUEST_PER_M + MEMORY_GB * ASSUMED_DURATION_S * 1e6 * LAMBDA_ARM_GB_SECOND
    return API_GATEWAY_PER_M + lambda_cost + reads * DDB_READ_UNIT_PER_M + writes * 2 * DDB_WRITE_UNIT_PER_M


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--skip-layers", action="store_true", help="do not build the layers (needs PyPI)")
    args = parser.parse_args()
    sys.path[:0] = [str(REPO), str(REPO / "shared")]
    from local.template import functions, load_template

    print("== Cold start: handler import time vs `import boto3` (best of 7, compiled) ==")
    for row in cold_starts(functions(load_template())):
        flag = "" if row["ratio"] <= 1.5 else "  (over the 1.5x target)"
        print(f"  {row['function']:<34} {row['ms']:7.1f} ms  {row['ratio']:5.2f}x{flag}")

    print("\n== AWS calls per request (moto, counted at botocore) ==")
    rows = aws_calls()
    for row in rows:
        print(f"  {row['request']:<34} cold {row['cold']}  warm {row['warm']}")

    if not args.skip_layers:
        print("\n== Layer sizes (unzipped, arm64 / python3.13) ==")
        for row in layer_sizes():
            text = f"{row['mib']:.1f} MiB" if "mib" in row else f"build failed: {row['error']}"
            print(f"  {row['layer']:<34} {text}")

    print(
        f"\n== Cost per million requests (API Gateway REST + Lambda arm64 {int(MEMORY_GB * 1024)} MB "
        f"at an assumed {int(ASSUMED_DURATION_S * 1000)} ms + DynamoDB on-demand; authorizer cached) =="
    )
    for row in rows[:3]:
        print(f"  {row['request']:<34} ${cost_per_million(row):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
