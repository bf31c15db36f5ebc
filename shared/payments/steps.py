"""Lambda handlers for state-machine steps: one per step, all logged and measured the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import logger, metrics

Step = Callable[[dict[str, Any]], dict[str, Any]]


def step_handler(step: Step) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """Wrap a saga step (``event -> result``) as a Lambda handler. Errors propagate on purpose:
    the state machine's Retry and Catch decide what a failed step means."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(withdrawal_id=event["withdrawal"]["id"], step=step.__name__)
        return step(event)

    return lambda_handler
