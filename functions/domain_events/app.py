"""DynamoDB stream of the ledger table: publish the domain events of committed changes to the
stack's EventBridge bus (deposit.completed, refund.failed, ...; docs/events/). Invoked with
``{"replay": true}`` (``make replay-events``), it publishes again the ranges Lambda gave up on."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.events.publisher import publish_batch
from payments.platform.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return publish_batch(event["Records"])
    from payments.events.replay import replay_given_up

    return replay_given_up().as_dict()
