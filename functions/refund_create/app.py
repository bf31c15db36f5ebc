"""``POST /api/v1/payments/refunds``: refund (part of) one of the caller's completed deposits."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import refunds
from payments.http.bodies import RefundBody, parse_body
from payments.http.resolver import create_resolver, current_caller, deadline, respond_once
from payments.http.views import refunds as views
from payments.platform.observability import logger, metrics

app = create_resolver()


@app.post("/api/v1/payments/refunds")
def handle_create_refund() -> Response:
    def refund(operation_id: str | None) -> views.RefundBody:
        body = parse_body(app, RefundBody)
        refund_id = f"rf_{operation_id}" if operation_id else None
        requested = refunds.request_refund(
            current_caller(app), body.transaction_id, body.amount, body.reason, refund_id, deadline(app)
        )
        return views.requested(requested)

    return respond_once(app, "refunds", refund)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
