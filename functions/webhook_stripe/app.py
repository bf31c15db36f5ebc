"""``POST /webhooks/stripe`` (no JWT: the signature authenticates it). Signature first, then the rest."""

from payments.gateways.base import GatewayName
from payments.http.webhook_handler import lambda_handler_for

lambda_handler = lambda_handler_for(GatewayName.STRIPE)
