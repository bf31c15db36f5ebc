"""``POST /api/v1/payments/withdrawals/initiate``: lock the funds and start the payout saga (202)."""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import withdrawals
from payments.http.bodies import WithdrawalInitiateBody, parse_body
from payments.http.resolver import create_resolver, current_caller, respond_once
from payments.http.views import withdrawals as views
from payments.platform.observability import logger, metrics

app = create_resolver()


@app.post("/api/v1/payments/withdrawals/initiate")
def handle_initiate_withdrawal() -> Response:
    def initiate(operation_id: str | None) -> views.WithdrawalStartedBody:
        body = parse_body(app, WithdrawalInitiateBody)
        caller = current_caller(app)
        withdrawal_id = f"wd_{operation_id}" if operation_id else None
        started = withdrawals.initiate(caller, body.amount, body.payment_method_id, body.description, withdrawal_id)
        return views.started(started)

    return respond_once(app, "withdrawals/initiate", initiate, success_status=HTTPStatus.ACCEPTED)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
