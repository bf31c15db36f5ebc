"""Which gateways this deployment has, their credentials and currencies, and building adapters.

Credentials use the spec's names (``RAZORPAY_KEY_ID``, ``RAZORPAY_KEY_SECRET``,
``RAZORPAY_WEBHOOK_SECRET``, ``STRIPE_SECRET_KEY``, ``STRIPE_PUBLISHABLE_KEY``,
``STRIPE_WEBHOOK_SECRET``, plus ``RAZORPAYX_ACCOUNT_NUMBER`` for payouts). In AWS they live in
one Secrets Manager JSON secret (``GATEWAY_SECRETS_ARN``, read through Powertools parameters and
cached 5 minutes); an environment variable of the same name wins, which is how the local stack
and the tests configure them. Adapters are imported only when built: the SDKs cost cold-start time.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from payments.core.errors import GatewayNotConfigured
from payments.gateways.base import SUPPORT, GatewayName, MethodType, PaymentGateway
from payments.platform.settings import Settings, settings


def _secret_values(arn: str) -> dict[str, Any]:
    if not arn:
        return {}
    from aws_lambda_powertools.utilities import parameters

    values = parameters.get_secret(arn, transform="json", max_age=300)
    return values if isinstance(values, dict) else {}


def setting(name: str) -> str | None:
    """A credential: the environment variable, else its secret (the Mock's own, generated per
    stack, for ``MOCK_*``; the gateway secret for the others), else its declared default."""
    declared = Settings.named(name)
    arn = settings.mock_secret_arn if name.startswith("MOCK_") else settings.gateway_secrets_arn
    value = declared.from_environment() or _secret_values(arn).get(name) or declared.default
    if not value and name == "MOCK_WEBHOOK_SECRET":
        key_secret = setting("MOCK_KEY_SECRET")
        value = hmac.new(key_secret.encode(), b"mock webhooks", hashlib.sha256).hexdigest() if key_secret else ""
    return str(value) if value else None


def is_configured(gateway: GatewayName) -> bool:
    """A stack with the Mock is a demo stack: its real gateways are off whatever credentials it
    has, so money the public Mock checkout "paid" can never leave through Razorpay or Stripe."""
    if gateway is GatewayName.MOCK:
        return settings.mock_gateway_enabled
    if settings.mock_gateway_enabled:
        return False
    if gateway is GatewayName.RAZORPAY:
        return bool(setting("RAZORPAY_KEY_ID") and setting("RAZORPAY_KEY_SECRET"))
    return bool(setting("STRIPE_SECRET_KEY"))


def enabled_gateways() -> list[GatewayName]:
    """The failover order (``GATEWAY_ORDER``), keeping only gateways with credentials."""
    return [
        GatewayName(name)
        for name in settings.gateway_order
        if name in GatewayName._value2member_map_ and is_configured(GatewayName(name))
    ]


def candidates(method_type: MethodType, preferred: GatewayName, in_currency: str) -> list[GatewayName]:
    """Gateways to try, in order: the preferred one (the method's, or the one the client asked
    for), then the other real gateways that support the method and take ``in_currency`` (the
    wallet's: money never changes currency on the way). The Mock is used only when asked for: a
    real gateway never fails over to it, nor it to a real one. A preferred gateway this
    deployment has not configured is refused, never silently replaced."""
    enabled = enabled_gateways()
    if preferred not in enabled:
        raise GatewayNotConfigured(f"{preferred.value} is not configured on this deployment", gateway=preferred.value)
    if preferred is GatewayName.MOCK:
        usable = [preferred]
    else:
        usable = [preferred] + [gateway for gateway in enabled if gateway not in (preferred, GatewayName.MOCK)]
    return [gateway for gateway in usable if method_type in SUPPORT[gateway] and currency(gateway) == in_currency]


def currency(gateway: GatewayName) -> str:
    """``INR`` unless ``<GATEWAY>_CURRENCY`` says otherwise (e.g. ``STRIPE_CURRENCY=USD``)."""
    return str(Settings.named(f"{gateway.value.upper()}_CURRENCY").read())


#: A gateway call may take this long, unless the invocation has less time left.
DEFAULT_TIMEOUT_S = 8.0


def build(gateway: GatewayName, checkout_base_url: str = "", timeout_s: float = DEFAULT_TIMEOUT_S) -> PaymentGateway:
    """The adapter of ``gateway``, its HTTP calls bounded by ``timeout_s`` (size it to what is
    left of the invocation with :meth:`payments.core.clock.Deadline.budget`)."""
    if gateway is GatewayName.RAZORPAY:
        from payments.gateways.razorpay_gateway import RazorpayGateway

        return RazorpayGateway(
            key_id=setting("RAZORPAY_KEY_ID") or "",
            key_secret=setting("RAZORPAY_KEY_SECRET") or "",
            webhook_secret=setting("RAZORPAY_WEBHOOK_SECRET") or "",
            payout_account_number=setting("RAZORPAYX_ACCOUNT_NUMBER"),
            timeout_s=timeout_s,
        )
    if gateway is GatewayName.STRIPE:
        from payments.gateways.stripe_gateway import StripeGateway

        return StripeGateway(
            secret_key=setting("STRIPE_SECRET_KEY") or "",
            publishable_key=setting("STRIPE_PUBLISHABLE_KEY") or "",
            webhook_secret=setting("STRIPE_WEBHOOK_SECRET") or "",
            timeout_s=timeout_s,
        )
    from payments.gateways.mock_gateway import MockGateway
    from payments.gateways.mock_webhooks import lambda_sender

    return MockGateway(
        key_id=setting("MOCK_KEY_ID") or "",
        key_secret=setting("MOCK_KEY_SECRET") or "",
        webhook_secret=setting("MOCK_WEBHOOK_SECRET") or "",
        checkout_base_url=checkout_base_url,
        send_webhook=lambda_sender(settings.mock_webhook_function_name or None),
    )
