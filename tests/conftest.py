"""Test-wide setup. The environment is fixed before any project module is imported, because the
pynamodb models read their table name at import time, as they do in Lambda."""

import json
import os

from local.stack import fake_aws_environment

os.environ.update(fake_aws_environment())
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ["LEDGER_TABLE_NAME"] = "payments-test-ledger"
os.environ["OPS_TABLE_NAME"] = "payments-test-ops"
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

pytest_plugins = ["tests.support.fixtures"]
