"""`make bench` - the performance figures of DESIGN.md section 8, measured in one run.

1. Cold start: the import time of each function's handler module (everything compiled to .pyc,
   as the layers ship) as a ratio to ``import boto3`` measured the same way in the same run, and
   the same plus the modules the function imports lazily on its first request (a cold start pays
   for those too). Each figure is the best of several fresh interpreters; the machine is noisy,
   ratios are what to compare.
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
import threading
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUNS = 7

_IMPORT_PROBE = """
import importlib, importlib.util, sys, time
path, first_use = sys.argv[1], [name for name in sys.argv[2].split(",") if name]
started = time.perf_counter()
if path == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("handler", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
imported = time.perf_counter()
for name in first_use:
    importlib.import_module(name)
print((imported - started) * 1000, (time.perf_counter() - started) * 1000)
"""

_PARAMETERS = "aws_lambda_powertools.utilities.parameters"
APPENDIX_ROUTES = (
    "/api/v1/payments/wallet/balance",
    "/api/v1/payments/deposits/initiate",
    "/api/v1/payments/withdrawals/initiate",
    "/api/v1/payments/wallet/transactions",
)
#: Modules a function imports on its first request rather than at import; deposits are counted
#: with Razorpay, the default first gateway.
FIRST_USE = {
    "AuthorizerFunction": [_PARAMETERS],
    "DepositInitiateFunction": [
        _PARAMETERS,
        "payments.gateways.razorpay_gateway",
        "payments.http.idempotency",
        "payments.platform.crypto",
    ],
    "DepositConfirmFunction": [_PARAMETERS, "payments.gateways.razorpay_gateway"],
    "DepositSweeperFunction": [_PARAMETERS, "payments.gateways.razorpay_gateway"],
    "WebhookRazorpayFunction": [_PARAMETERS, "payments.gateways.razorpay_gateway"],
    "WebhookStripeFunction": [_PARAMETERS, "payments.gateways.stripe_gateway"],
    "WebhookMockFunction": ["payments.gateways.mock_gateway"],
    "MockCheckoutFunction": ["payments.gateways.mock_gateway", "payments.gateways.mock_webhooks", "boto3"],
    "MethodsCreateFunction": ["payments.platform.crypto", "payments.http.idempotency"],
}


def _import_ms(target: str, env: dict[str, str], first_use: list[str]) -> tuple[float, float]:
    best, best_total = float("inf"), float("inf")
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, target, ",".join(first_use)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        module_ms, total_ms = (float(value) for value in out.stdout.split())
        best, best_total = min(best, module_ms), min(best_total, total_ms)
    return best, best_total


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
    baseline, _ = _import_ms("boto3", env, [])
    rows = [{"function": "import boto3 (reference)", "ms": baseline, "ratio": 1.0, "first_use": 1.0}]
    for logical_id, spec in sorted(functions.items()):
        module = spec.code_dir / f"{spec.handler.rpartition('.')[0]}.py"
        ms, total = _import_ms(str(module), env, FIRST_USE.get(logical_id, []))
        rows.append({"function": logical_id, "ms": ms, "ratio": ms / baseline, "first_use": total / baseline})
    return rows


class _CallCounter:
    """Counts botocore API calls (service, operation) made through any client."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> _CallCounter:
        from botocore.client import BaseClient

        self._original = BaseClient._make_api_call
        counter = self

        thread = threading.get_ident()

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if threading.get_ident() == thread:  # not the Step Functions engine's own threads
                table = str(params.get("TableName", "")).rsplit("-", 1)[-1]
                suffix = f"({table})" if table else ""
                counter.calls[f"{client.meta.service_model.service_name}:{operation}{suffix}"] += 1
            return counter._original(client, operation, params)

        BaseClient._make_api_call = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore.client import BaseClient

        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def _measure(label: str, call: Any) -> dict[str, Any]:
    counts = []
    for _ in range(2):
        with _CallCounter() as counter:
            call()
        counts.append(dict(counter.calls))
    return {"request": label, "cold": counts[0], "warm": counts[1]}


def aws_calls() -> list[dict[str, Any]]:
    from local.stack import configure_moto, deploy, fake_aws_environment

    os.environ.update(fake_aws_environment())
    os.environ.update(
        {
            "LEDGER_TABLE_NAME": "bench-ledger",
            "OPS_TABLE_NAME": "bench-ops",
            "AUDIT_TABLE_NAME": "bench-audit",
            "JWT_SECRET_KEY": "bench-secret-0123456789abcdef0123456789",
            # The bench makes many deposits as one user: count the rate-limit write and the fraud
            # engine's read, but do not let their policies refuse the requests being measured.
            "RATE_LIMITS_JSON": json.dumps({route: [10**6, 60] for route in ("default", *APPENDIX_ROUTES)}),
            "RISK_CONFIG_JSON": json.dumps({"review_score": 10**6, "block_score": 10**6}),
        }
    )
    from moto import mock_aws

    configure_moto()
    with mock_aws():
        deployment = deploy("bench")
        from payments.http.auth import issue_token
        from tests.support.api import InProcessApi, Wallets
        from tests.support.fixtures import load_event
        from tests.support.signing import mock_webhook

        api = InProcessApi(deployment)
        wallets = Wallets(api)
        user = "bench_user"
        method_id = wallets.add_method(user, token="tok_mock_no_webhook")
        authorizer = load_event("authorizer")
        authorizer["authorizationToken"] = f"Bearer {issue_token(os.environ['JWT_SECRET_KEY'], user)}"
        rows = [
            _measure("GET /wallet/balance", lambda: wallets.balance(user)),
            _measure(
                "GET /wallet/transactions",
                lambda: api.get("WalletTransactionsFunction", "/api/v1/payments/wallet/transactions", user),
            ),
            _measure("GET /health", lambda: api.get("HealthFunction", "/health", None)),
            _measure(
                "authorizer (per token per 300 s)",
                lambda: deployment.runtime.invoke("AuthorizerFunction", dict(authorizer)),
            ),
            _measure("POST /methods", lambda: wallets.add_method(user, token="tok_mock_success")),
            _measure("POST /deposits/initiate (mock)", lambda: wallets.initiate(user, method_id)),
        ]
        paid = []
        for _ in range(2):
            started = wallets.initiate(user, method_id).body
            paid.append((started, wallets.pay(started["order_id"])))

        def confirm() -> None:
            started, payment = paid.pop(0)
            data = {"mock_order_id": payment["order_id"], "mock_signature": payment["signature"]}
            wallets.confirm(user, started["transaction_id"], payment["payment_id"], data)

        rows.append(_measure("POST /deposits/confirm", confirm))
        pending = []
        for n in range(2):
            started = wallets.initiate(user, method_id).body
            payment = wallets.pay(started["order_id"])
            entity = {"id": payment["payment_id"], "order_id": payment["order_id"], "amount": 100050, "currency": "INR"}
            pending.append(mock_webhook("payment.captured", "payment", entity, f"evt_bench_{n}"))

        def webhook() -> None:
            body, headers = pending.pop(0)
            api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)

        rows.append(_measure("POST /webhooks/mock (credit)", webhook))
        payout_method = wallets.add_method(user, token="tok_mock_success", kind="BANK_TRANSFER")
        rows.append(
            _measure(
                "POST /withdrawals/initiate",
                lambda: api.post(
                    "WithdrawalInitiateFunction",
                    "/api/v1/payments/withdrawals/initiate",
                    user,
                    {"amount": "1.00", "payment_method_id": payout_method},
                ),
            )
        )
        _wait_for_sagas(deployment)
        return rows


def _wait_for_sagas(deployment: Any, timeout_s: float = 30) -> None:
    """Let the withdrawals the bench started finish inside moto before it goes away."""
    import time

    import boto3

    client = boto3.client("stepfunctions")
    machine = deployment.stack.physical["WithdrawalStateMachine"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = client.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
        if not running:
            return
        time.sleep(0.2)


def layer_sizes() -> list[dict[str, Any]]:
    lambda_python = shutil.which("python3.13")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        layers = (
            ("SharedLayer", REPO / "shared"),
            ("DependenciesLayer", REPO / "layers" / "dependencies"),
            ("GatewaysLayer", REPO / "layers" / "gateways"),
        )
        for name, folder in layers:
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


# us-east-1 list prices (November 2026): REST API, Lambda arm64, DynamoDB on-demand, KMS.
API_GATEWAY_PER_M = 3.50
LAMBDA_REQUEST_PER_M = 0.20
LAMBDA_ARM_GB_SECOND = 0.0000133334
DDB_READ_UNIT_PER_M = 0.125
DDB_WRITE_UNIT_PER_M = 0.625
KMS_REQUEST_PER_M = 3.00
ASSUMED_DURATION_S = 0.030
MEMORY_GB = 0.5
#: Items in one ledger TransactWriteItems (wallet, entry, transaction); each costs 2 write units.
TRANSACTION_ITEMS = 3


def cost_per_million(row: dict[str, Any]) -> float:
    calls = row["warm"]
    reads = sum(n for call, n in calls.items() if call.split(":")[1].split("(")[0] in ("GetItem", "Query"))
    writes = sum(
        n for call, n in calls.items() if call.split(":")[1].split("(")[0] in ("PutItem", "UpdateItem", "DeleteItem")
    )
    transactions = sum(n for call, n in calls.items() if call.endswith("TransactWriteItems"))
    kms = sum(n for call, n in calls.items() if call.startswith("kms:"))
    lambda_cost = LAMBDA_REQUEST_PER_M + MEMORY_GB * ASSUMED_DURATION_S * 1e6 * LAMBDA_ARM_GB_SECOND
    dynamodb = reads * DDB_READ_UNIT_PER_M + (writes + transactions * TRANSACTION_ITEMS * 2) * DDB_WRITE_UNIT_PER_M
    return API_GATEWAY_PER_M + lambda_cost + dynamodb + kms * KMS_REQUEST_PER_M


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--skip-layers", action="store_true", help="do not build the layers (needs PyPI)")
    args = parser.parse_args()
    sys.path[:0] = [str(REPO), str(REPO / "shared")]
    from local.template import functions, load_template

    print("== Cold start: handler import time vs `import boto3` (best of 7, compiled) ==")
    print(f"  {'function':<30} {'import':>9}  {'ratio':>6}  {'with first-use imports':>22}")
    for row in cold_starts(functions(load_template())):
        flag = "" if row["ratio"] <= 1.5 else "  <- module import over the 1.5x target"
        print(f"  {row['function']:<30} {row['ms']:6.1f} ms  {row['ratio']:5.2f}x  {row['first_use']:21.2f}x{flag}")

    print("== Fraud engine on synthetic users (tests/support/population.py) ==")
    from tests.support.population import detection_rates, false_positive_rate

    print(f"  false positives, 1000 ordinary users: {false_positive_rate(1000):.1%}")
    for pattern, rate in detection_rates(250).items():
        print(f"  detected, 250 x {pattern:<18} {rate:.1%}")

    print(
        "\n== AWS calls per request (moto, counted at botocore; cold = first request of a container;"
        " UpdateItem(ops) is the rate-limit counter) =="
    )
    rows = aws_calls()
    for row in rows:
        print(f"  {row['request']:<34} warm {row['warm']}")
        if row["cold"] != row["warm"]:
            print(f"  {'':<34} cold {row['cold']}")

    if not args.skip_layers:
        print("\n== Layer sizes (unzipped, arm64 / python3.13) ==")
        for row in layer_sizes():
            text = f"{row['mib']:.1f} MiB" if "mib" in row else f"build failed: {row['error']}"
            print(f"  {row['layer']:<34} {text}")

    print(
        f"\n== Cost per million requests (API Gateway REST + Lambda arm64 {int(MEMORY_GB * 1024)} MB "
        f"at an assumed {int(ASSUMED_DURATION_S * 1000)} ms + DynamoDB on-demand + KMS; authorizer cached) =="
    )
    for row in rows:
        if not row["request"].startswith("authorizer"):
            print(f"  {row['request']:<34} ${cost_per_million(row):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
