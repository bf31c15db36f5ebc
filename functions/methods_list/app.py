"""``GET /api/v1/payments/methods``: the caller's payment methods, masked."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import methods
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import methods as views
from payments.platform.observability import logger

app = create_resolver()


@app.get("/api/v1/payments/methods")
def handle_list_methods() -> views.MethodListBody:
    return views.listed(methods.list_methods(current_caller(app).user_id))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
