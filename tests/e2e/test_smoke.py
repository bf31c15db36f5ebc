"""``make smoke`` against the local stack, as a user runs it against theirs after ``sam deploy``."""

import subprocess
import sys

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


def test_make_reconcile_on_the_local_stack_finds_nothing_to_report(local_stack: LocalStack) -> None:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "scripts/reconcile.py", "--url", local_stack.api],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].endswith(": 0 differ, 0 overdue")
