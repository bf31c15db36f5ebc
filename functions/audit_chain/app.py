"""Scheduled (EventBridge, every 5 minutes): link new audit records into their hash chains and
anchor the chain heads that moved in the anchor log group (payments.audit.chain)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.chain_audit(Deadline.from_context(context))
