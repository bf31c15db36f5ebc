"""Scheduled (EventBridge): resolve in-flight refunds, withdrawals and disputes by asking the
gateway (or Step Functions) where they stand: nothing stays in flight without a job watching it."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reports = jobs.recover_in_flight(Deadline.from_context(context))
    return {"reports": [asdict(report) for report in reports]}
