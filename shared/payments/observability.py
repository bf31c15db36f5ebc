"""Logger, metrics and tracer, created once per container and shared by handler and layer code.

Configuration comes from the Powertools environment variables the template sets in Globals
(``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE``, ``POWERTOOLS_LOG_LEVEL``).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer()
