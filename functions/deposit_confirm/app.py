"""``POST /api/v1/payments/deposits/confirm``: verify the client's confirmation; credit once."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import deposits
from payments.http.bodies import DepositConfirmBody, parse_body
from payments.http.resolver import create_resolver, current_caller, deadline, respond_once
from payments.http.views import deposits as views
from payments.platform.observability import logger, metrics

app = create_resolver()


@app.post("/api/v1/payments/deposits/confirm")
def handle_confirm_deposit() -> Response:
    def confirm(_operation_id: str | None) -> views.DepositConfirmedBody:
        body = parse_body(app, DepositConfirmBody)
        caller = current_caller(app)
        confirmed = deposits.confirm(
            caller, body.transaction_id, body.gateway_payment_id, body.gateway_data, deadline(app)
        )
        return views.confirmed(confirmed)

    return respond_once(app, "deposits/confirm", confirm)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
