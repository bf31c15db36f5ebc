"""Test-wide setup. The environment is fixed before any project module is imported, because the
pynamodb models read their table name at import time, as they do in Lambda."""

import json
import os
import socket

from local.stack import fake_aws_environment

os.environ.update(fake_aws_environment())
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ["LEDGER_TABLE_NAME"] = "payments-test-ledger"
os.environ["OPS_TABLE_NAME"] = "payments-test-ops"
os.environ["AUDIT_TABLE_NAME"] = "payments-test-audit"
os.environ["JWT_SECRET_KEY"] = "test-only-secret-0123456789abcdef"
os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
# Scenario tests make many requests as one user; tests/integration/test_rate_limits.py puts the
# spec's limits back for itself.
_BUSY_ROUTES = (
    "default",
    "webhooks",
    "/api/v1/payments/wallet/balance",
    "/api/v1/payments/deposits/initiate",
    "/api/v1/payments/withdrawals/initiate",
    "/api/v1/payments/wallet/transactions",
)
os.environ["RATE_LIMITS_JSON"] = json.dumps({route: [100_000, 60] for route in _BUSY_ROUTES})

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})  # noqa: S104 - a test guard, not a bind
_real_getaddrinfo = socket.getaddrinfo


def _local_only(host: object, *args: object, **kwargs: object) -> object:
    """No test may use the network: gateways are stubbed at HTTP, AWS is moto. A real lookup
    fails at once here instead of hanging on this machine's closed network."""
    if str(host) not in _LOCAL_HOSTS:
        raise OSError(f"tests may not use the network (looked up {host})")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


socket.getaddrinfo = _local_only  # type: ignore[assignment]

pytest_plugins = ["tests.support.fixtures"]
