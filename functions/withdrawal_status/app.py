"""``GET /api/v1/payments/withdrawals/{withdrawal_id}/status``: the caller's withdrawal (404 otherwise)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import withdrawals
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import withdrawals as views
from payments.platform.observability import logger

app = create_resolver()


@app.get("/api/v1/payments/withdrawals/<withdrawal_id>/status")
def handle_withdrawal_status(withdrawal_id: str) -> views.WithdrawalStatusBody:
    return views.status(withdrawals.status(current_caller(app), withdrawal_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
