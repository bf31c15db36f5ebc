"""``GET /api/v1/payments/wallet/balance``: the caller's balance and live KYC limits (one read)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import wallets
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import wallet as views
from payments.platform.observability import logger

app = create_resolver()


@app.get("/api/v1/payments/wallet/balance")
def handle_get_balance() -> views.BalanceBody:
    caller = current_caller(app)
    return views.balance(wallets.get_balance(caller.user_id, caller.kyc_level))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
