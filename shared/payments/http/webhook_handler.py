"""The Lambda handler of ``POST /webhooks/<gateway>``: one per gateway, so each function loads
only its own SDK (the adapter is built on the first request). Signature first, then the flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments.core.acting import acting_as
from payments.gateways.base import GatewayName
from payments.platform.observability import logger, metrics


def lambda_handler_for(gateway_name: GatewayName) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from aws_lambda_powertools.logging import correlation_paths

    from payments.flows import webhooks
    from payments.gateways import registry
    from payments.http.resolver import create_resolver, request_text
    from payments.http.views import webhooks as views

    app = create_resolver()

    @app.post(f"/webhooks/{gateway_name.value}")
    def handle_webhook() -> views.WebhookReceivedBody:
        event = app.current_event
        gateway = registry.build(gateway_name)
        body = request_text(event)  # the bytes the gateway signed, whichever way API Gateway passed them
        source_ip = event.request_context.identity.source_ip
        with acting_as(f"gateway:{gateway_name.value}", source_ip):
            result = webhooks.process(gateway, body, event.headers, source_ip)
        return views.received(result)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler
