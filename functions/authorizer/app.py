"""Lambda authorizer (TOKEN type): verifies the bearer JWT and passes the caller to the handlers.

API Gateway's contract: raising ``Exception("Unauthorized")`` answers 401; an Allow policy lets the
request through with ``context`` (user_id, kyc_level, roles) visible to the handler. The policy
covers every route of the stage, because API Gateway caches it per token (``ReauthorizeEvery``).
"""

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.errors import Unauthorized
from payments.http.auth import audit_refusal, settings_from_environment, verify_token, with_stored_kyc_level
from payments.platform.observability import logger

_BEARER = "bearer"


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token_event = APIGatewayAuthorizerTokenEvent(event)
    scheme, _, token = (token_event.authorization_token or "").partition(" ")
    try:
        if scheme.lower() != _BEARER or not token.strip():
            raise Unauthorized("Missing bearer token")
        caller = with_stored_kyc_level(verify_token(token.strip(), settings_from_environment()))
    except Unauthorized as exc:
        logger.info("token refused", extra={"reason": exc.message})
        audit_refusal(exc.message)
        raise Exception("Unauthorized") from None
    arn = token_event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=caller.user_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=caller.to_authorizer_context(),
    )
    policy.allow_all_routes()
    logger.append_keys(user_id=caller.user_id)
    logger.debug("token accepted")
    return policy.asdict()
