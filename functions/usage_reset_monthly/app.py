"""Scheduled (EventBridge): reset the monthly KYC usage of every wallet whose period has passed."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.kyc import resets as usage_reset
from payments.platform.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return usage_reset.reset("monthly")
