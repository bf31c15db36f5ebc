"""How the Mock gateway delivers its signed webhooks: by invoking the ``/webhooks/mock`` function
with the API Gateway proxy event that route would receive.

Invoking the function, rather than POSTing to the API's URL, needs no public URL (which the
template cannot pass to a function without a circular reference) and works the same in AWS and
on the local stack, where the invocation reaches the real handler in-process. The webhook
function cannot tell the difference: it verifies the same signature over the same raw body.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from payments.gateways.mock_gateway import WebhookSender
from payments.platform.observability import logger


@cache
def _lambda() -> Any:
    import boto3

    return boto3.client("lambda")


def lambda_sender(function_name: str | None) -> WebhookSender | None:
    if not function_name:
        return None

    def send(body: str, headers: dict[str, str]) -> None:
        event = {
            "resource": "/webhooks/mock",
            "path": "/webhooks/mock",
            "httpMethod": "POST",
            "headers": headers,
            "multiValueHeaders": {key: [value] for key, value in headers.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "requestContext": {
                "resourcePath": "/webhooks/mock",
                "httpMethod": "POST",
                "identity": {"sourceIp": "127.0.0.1"},
                "requestId": headers.get("X-Mock-Event-Id", ""),
            },
            "body": body,
            "isBase64Encoded": False,
        }
        response = _lambda().invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        if response.get("FunctionError"):
            # A gateway would retry later; the deposit sweeper settles the payment meanwhile.
            logger.warning("mock webhook delivery failed", extra={"function_error": response["FunctionError"]})

    return send
