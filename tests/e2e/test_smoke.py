"""``make smoke`` against the local stack, as a user runs it against theirs after ``sam deploy``."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.support.fixtures import REPO_ROOT, LocalStack, make_token


def _smoke(local_stack: LocalStack, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "scripts/smoke.py", "--url", local_stack.api, "--token", token, "--wait", "40"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_smoke_check_passes_on_a_working_stack(local_stack: LocalStack, user_id: str) -> None:
    result = _smoke(local_stack, make_token(user_id))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   health",
        "ok   balance",
        "ok   deposit",
        "ok   withdrawal",
        "smoke",
    ]
    assert "balance 5.00" in lines[3]


def test_the_smoke_check_says_what_failed(local_stack: LocalStack) -> None:
    result = _smoke(local_stack, "not-a-jwt")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("FAIL GET /api/v1/payments/wallet/balance answered 401")


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the operator scripts (make reconcile, make audit-verify...) as make runs it."""
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, f"scripts/{name}", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_make_reconcile_on_the_local_stack_finds_nothing_to_report(local_stack: LocalStack) -> None:
    result = _script("reconcile.py", "--url", local_stack.api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].endswith(": 0 differ, 0 overdue")


def test_make_audit_verify_on_the_local_stack_finds_every_chain_whole(local_stack: LocalStack) -> None:
    """After whatever the session did over HTTP: the chainer links it all, every chain verifies,
    every ledger entry has its record."""
    result = _script("audit_verify.py", "--url", local_stack.api)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("chained ")
    assert lines[-1].endswith(": 0 broken, 0 entries without a record")
    assert not lines[-1].startswith("verified 0 chain(s)")


def test_reconcile_gateways_on_the_local_stack_asks_the_mock(local_stack: LocalStack) -> None:
    """Other tests of the session leave differences on purpose (captures nobody confirmed): this
    checks that the report runs against the stack and reaches the Mock, not what it finds."""
    today = datetime.now(UTC).date()
    result = subprocess.run(  # noqa: S603 - our own script
        [
            sys.executable,
            "scripts/reconcile.py",
            "--gateways",
            "--since",
            str(today),
            "--until",
            str(today + timedelta(days=1)),
            "--url",
            local_stack.api,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.splitlines() or [""]
    assert lines[0].startswith("mock: complete; matched "), result.stdout + result.stderr
    assert lines[-1].endswith("; complete: True")
    assert result.returncode == (0 if lines[-1].endswith(": 0 differ; complete: True") else 1)
