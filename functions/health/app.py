"""``GET /health`` (no auth): liveness, a database round trip and each gateway's circuit, as
load balancers and uptime checks expect. 200 when healthy or degraded (a gateway's circuit is
open: deposits fail over), 503 when the table cannot be read."""

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import health
from payments.http.resolver import create_resolver
from payments.http.views import health as views
from payments.platform.observability import logger

app = create_resolver()


@app.get("/health")
def handle_health() -> Response:
    body = views.health(health.check_database(), health.check_gateways())
    status = HTTPStatus.SERVICE_UNAVAILABLE if body["status"] == "unhealthy" else HTTPStatus.OK
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
