"""Scheduled (EventBridge, daily) and ``make reconcile-gateways``: yesterday's (or the ``detail``'s
``since``/``until``) completed deposits, refunds and payouts matched with each gateway's own
records (payments.flows.gateway_reconciliation). Reports (ops table, metrics, logs); never edits."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import jobs
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return jobs.reconcile_with_gateways(event.get("detail"))
