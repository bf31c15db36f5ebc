"""``POST /webhooks/stripe`` (no JWT: the signature authenticates it). Signature first, then the rest."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments import webhooks
from payments.api import create_resolver
from payments.gateways import registry
from payments.gateways.base import GatewayName
from payments.observability import logger, metrics

app = create_resolver()


@app.post("/webhooks/stripe")
def handle_stripe_webhook() -> dict[str, Any]:
    event = app.current_event
    gateway = registry.build(GatewayName.STRIPE)
    return webhooks.process(gateway, event.body or "", event.headers, event.request_context.identity.source_ip)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
