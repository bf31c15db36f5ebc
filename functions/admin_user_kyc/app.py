"""``PUT /api/v1/payments/admin/users/{user_id}/kyc`` (role admin): store a user's KYC level.

The stored level wins over the JWT claim everywhere: the balance view reads it directly, and the
authorizer passes it to every handler (its answer is cached per token for up to 5 minutes).
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.errors import Forbidden
from payments.http.bodies import KycBody, parse_body
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import admin as views
from payments.kyc import levels
from payments.platform.observability import logger

app = create_resolver()


@app.put("/api/v1/payments/admin/users/<user_id>/kyc")
def handle_set_kyc(user_id: str) -> views.KycSetBody:
    caller = current_caller(app)
    if not caller.is_admin:
        raise Forbidden("Admin role required")
    body = parse_body(app, KycBody)
    levels.set_kyc_level(user_id, body.kyc_level)
    logger.info("kyc level set", extra={"user_id": user_id, "kyc_level": str(body.kyc_level), "by": caller.user_id})
    return views.kyc_set(user_id, body.kyc_level)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
