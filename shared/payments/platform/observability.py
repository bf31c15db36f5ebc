"""Logger and metrics, created once per container and shared by handler and layer code.

Configuration comes from the Powertools environment variables the template sets in Globals
(``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``).

No Powertools ``Tracer``: importing the X-Ray SDK costs about 140 ms on every cold start (measured
by ``make bench``), more than the whole rest of a handler. Lambda's active tracing (``Tracing:
Active`` in the template) and API Gateway tracing still record every request and its duration;
what is given up is per-call subsegments. See docs/decisions.md.
"""

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()


def gateway_latency(gateway: str, started: float) -> None:
    """``GatewayLatency`` (ms) of one gateway call, with a ``gateway`` dimension beside the
    service's (the dashboard's gateway response times)."""
    from aws_lambda_powertools.metrics import MetricUnit

    elapsed_ms = (time.perf_counter() - started) * 1000
    _one_metric("GatewayLatency", MetricUnit.Milliseconds, elapsed_ms, "gateway", gateway)


def _one_metric(name: str, unit: Any, value: float, dimension: str, dimension_value: str) -> None:
    """A metric with one dimension of its own beside the service's (its own EMF document)."""
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(name=name, unit=unit, value=value, default_dimensions=metrics.default_dimensions) as metric:
        metric.add_dimension(name=dimension, value=dimension_value)


def oldest_in_flight_metric(kind: str, minutes: int) -> None:
    """``OldestInFlightMinutes`` with a ``kind`` dimension (DEPOSIT, REFUND, WITHDRAWAL, DISPUTE):
    how long the oldest record of the kind has been in flight (0 when none is)."""
    from aws_lambda_powertools.metrics import MetricUnit

    _one_metric("OldestInFlightMinutes", MetricUnit.Count, minutes, "kind", kind)


def correlate(transaction_id: str | None, **more: str) -> None:
    """Every later log line of this invocation carries ``transaction_id``: the id of the money
    (deposit, withdrawal or refund) is the correlation id of its whole life - API, saga steps,
    webhooks, jobs - and searchable in every log group (handlers clear it per invocation)."""
    if transaction_id:
        logger.append_keys(transaction_id=transaction_id, **more)
