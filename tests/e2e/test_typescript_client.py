"""The TypeScript client (clients/typescript) against the local stack: its generated types match
docs/openapi.json, it is formatted and type-checks, and its Node tests (the examples the READMEs
show, the usePayments logic, errors from the envelope, retries under one Idempotency-Key) pass."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from local.template import REPO_ROOT
from tests.support.fixtures import LocalStack, make_token, unique_id

PACKAGE = REPO_ROOT / "clients" / "typescript"
#: One fresh user per name (clients/typescript/tests/stack.ts, tokenOf): Node runs test files in parallel processes, and
#: each wallet's balance and rate limits (5 deposit initiations per 5 minutes) stay its own.
USERS = ("example", "errors", "retry", "lifecycle", "controller", "controller_errors")
NPM_ENV = {"npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false"}

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="Node.js (node, npm) is not on PATH: the TypeScript client's tests need it",
)


def _run(*command: str, env: dict[str, str] | None = None, timeout: float = 180, hint: str = "") -> str:
    done = subprocess.run(  # noqa: S603 - fixed commands in our own package
        command,
        cwd=PACKAGE,
        env={**os.environ, **NPM_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"`{' '.join(command)}` failed ({done.returncode}) in {PACKAGE}: {hint}\n{output}"
    return output


def _install() -> None:
    """`npm ci` once per package-lock.json: its hash is stamped into node_modules."""
    lock = hashlib.sha256((PACKAGE / "package-lock.json").read_bytes()).hexdigest()
    stamp = PACKAGE / "node_modules" / ".installed-lock-sha256"
    if stamp.is_file() and stamp.read_text() == lock:
        return
    _run("npm", "ci", "--no-progress", timeout=600)
    stamp.write_text(lock)


def test_typescript_client_against_the_local_stack(local_stack: LocalStack) -> None:
    _install()
    _run(
        "npm",
        "run",
        "--silent",
        "check-generated",
        hint="src/schema.d.ts does not match docs/openapi.json: run `cd clients/typescript && npm run generate`",
    )
    _run("npm", "run", "--silent", "check-format", hint="run `cd clients/typescript && npm run format`")
    _run("npm", "run", "--silent", "build")  # tsc: the type check of `npm run typecheck`, then the emit
    tokens = {name: make_token(unique_id(f"ts_{name}")) for name in USERS}
    output = _run(
        "node",
        "--test",
        "--test-reporter=tap",
        str(Path("dist") / "tests"),
        env={"BASE_URL": local_stack.api, "TOKENS": json.dumps(tokens)},
        timeout=300,
    )
    # The tests that need a stack skip without BASE_URL (TAP marks them "# SKIP"): here none may.
    assert "\n# fail 0\n" in output, output
    assert "# SKIP" not in output, output
