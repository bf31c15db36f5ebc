"""Scheduled (EventBridge): settle deposits stuck in PENDING by asking their gateway; close expired ones."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = jobs.sweep_deposits(Deadline.from_context(context))
    metrics.add_metric(name="SweptDeposits", unit="Count", value=report.examined)
    return asdict(report)
