"""Scheduled (EventBridge, hourly) and ``make reconcile``: recompute wallets from their ledger
entries (a part of the table per run, continuing where the last one stopped) and count in-flight
records past their bound. Reports (ops table, metrics, logs); never edits a balance."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.clock import Deadline
from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(jobs.reconcile(Deadline.from_context(context)))
