"""Scheduled (EventBridge, daily) and ``make audit-verify``: walk every audit chain, report the
first broken link of each and every ledger entry without its audit record (payments.audit.verify).
Reports (ops table, metrics, logs); never repairs anything."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(jobs.verify_audit(Deadline.from_context(context)))
