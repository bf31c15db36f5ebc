"""``POST /api/v1/payments/deposits/initiate``: a PENDING deposit and an order at a gateway."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import deposits
from payments.http.bodies import DepositInitiateBody, parse_body
from payments.http.resolver import create_resolver, current_caller, deadline, public_base_url, respond_once
from payments.http.views import deposits as views
from payments.platform.observability import logger, metrics

app = create_resolver()


@app.post("/api/v1/payments/deposits/initiate")
def handle_initiate_deposit() -> Response:
    def initiate(operation_id: str | None) -> views.DepositInitiatedBody:
        body = parse_body(app, DepositInitiateBody)
        source_ip = app.current_event.request_context.identity.source_ip
        request = deposits.InitiateRequest(
            body.amount, body.payment_method_id, body.gateway, body.description, source_ip
        )
        txn_id = f"txn_{operation_id}" if operation_id else None
        started = deposits.initiate(current_caller(app), request, public_base_url(app), txn_id, deadline(app))
        return views.initiated(started)

    return respond_once(app, "deposits/initiate", initiate)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
