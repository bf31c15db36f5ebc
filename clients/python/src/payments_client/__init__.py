"""Typed Python client for the serverless wallet and payments API."""

from payments_client import errors, models
from payments_client.client import PaymentClient
from payments_client.errors import ApiError, NetworkError, PaymentsError

__all__ = ["ApiError", "NetworkError", "PaymentClient", "PaymentsError", "errors", "models"]
__version__ = "0.1.0"
