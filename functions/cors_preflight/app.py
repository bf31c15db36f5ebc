"""``OPTIONS`` on every API path (no auth: browsers send preflights without the bearer token):
the CORS grants for an allowed origin (``CORS_ALLOWED_ORIGINS``), nothing for any other."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.http import cors


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    status, grants = cors.preflight(headers.get("origin"), headers.get("access-control-request-method"))
    return {"statusCode": int(status), "headers": grants, "body": ""}
