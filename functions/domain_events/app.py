"""DynamoDB stream of the ledger table: publish the domain events of committed changes to the
stack's EventBridge bus (deposit.completed, refund.failed, ...; docs/events/)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.events.publisher import publish_batch
from payments.platform.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return publish_batch(event.get("Records", []))
