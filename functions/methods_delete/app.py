"""``DELETE /api/v1/payments/methods/{method_id}``: remove one of the caller's methods (404 otherwise)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import methods
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import methods as views
from payments.platform.observability import logger

app = create_resolver()


@app.delete("/api/v1/payments/methods/<method_id>")
def handle_delete_method(method_id: str) -> views.MethodDeletedBody:
    methods.delete_method(current_caller(app).user_id, method_id)
    return views.deleted(method_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
