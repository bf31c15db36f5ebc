"""``POST /api/v1/payments/methods``: store a gateway token (never card data), sealed with KMS."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import methods
from payments.http.bodies import MethodCreateBody, parse_body
from payments.http.resolver import create_resolver, current_caller, respond_once
from payments.http.views import methods as views
from payments.platform.observability import logger

app = create_resolver()


@app.post("/api/v1/payments/methods")
def handle_add_method() -> Response:
    def add(operation_id: str | None) -> views.MethodCreatedBody:
        body = parse_body(app, MethodCreateBody)
        meta = body.metadata
        new = methods.NewMethod(
            type=body.type,
            gateway=body.gateway,
            token=body.token,
            last_four=meta.last_four,
            brand=meta.brand,
            expiry_month=meta.expiry_month,
            expiry_year=meta.expiry_year,
            label=meta.label,
        )
        method_id = f"pm_{operation_id}" if operation_id else None
        return views.created(methods.add_method(current_caller(app).user_id, new, method_id))

    return respond_once(app, "methods", add)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
