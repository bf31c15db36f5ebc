"""Test-wide setup. The environment is fixed before any project module is imported, because the
pynamodb models read their table name at import time, as they do in Lambda."""

import os

from local.stack import fake_aws_environment

os.environ.update(fake_aws_environment())
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ["LEDGER_TABLE_NAME"] = "payments-test-ledger"
os.environ["OPS_TABLE_NAME"] = "payments-test-ops"
os.environ["JWT_SECRET_KEY"] = "test-only-secret-0123456789abcdef"
os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

pytest_plugins = ["tests.support.fixtures"]
