"""Lambda handlers for state-machine steps: one per step, all logged and measured the same way."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.acting import acting_as
from payments.platform.observability import logger, metrics

Step = Callable[[dict[str, Any]], dict[str, Any]]


def step_handler(module: ModuleType, name: str) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """Wrap the saga step ``module.name`` (``event -> result``) as a Lambda handler, looked up at
    call time. Errors propagate on purpose: the state machine's Retry and Catch decide what a
    failed step means."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.append_keys(transaction_id=event["withdrawal"]["id"], withdrawal_id=event["withdrawal"]["id"], step=name)
        step: Step = getattr(module, name)
        with acting_as(f"saga:{name}"):
            result = step(event)
        logger.info("saga step done", extra={"result_keys": sorted(result)})
        return result

    return lambda_handler
