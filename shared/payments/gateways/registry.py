"""Which gateways this deployment has, their credentials and currencies, and building adapters.

Credentials use the spec's names (``RAZORPAY_KEY_ID``, ``RAZORPAY_KEY_SECRET``,
``RAZORPAY_WEBHOOK_SECRET``, ``STRIPE_SECRET_KEY``, ``STRIPE_PUBLISHABLE_KEY``,
``STRIPE_WEBHOOK_SECRET``, plus ``RAZORPAYX_ACCOUNT_NUMBER`` for payouts). In AWS they live in
one Secrets Manager JSON secret (``GATEWAY_SECRETS_ARN``, read through Powertools parameters and
cached 5 minutes); an environment variable of the same name wins, which is how the local stack
and the tests configure them. Adapters are imported only when built: the SDKs cost cold-start time.
"""

from __future__ import annotations

from typing import Any

from payments.gateways.base import SUPPORT, GatewayName, MethodType, PaymentGateway
from payments.platform.settings import Settings, settings


def _secret_values() -> dict[str, Any]:
    arn = settings.gateway_secrets_arn
    if not arn:
        return {}
    from aws_lambda_powertools.utilities import parameters

    values = parameters.get_secret(arn, transform="json", max_age=300)
    return values if isinstance(values, dict) else {}


def setting(name: str) -> str | None:
    """A credential: the environment variable, else the gateway secret, else its declared default."""
    declared = Settings.named(name)
    value = declared.from_environment() or _secret_values().get(name) or declared.default
    return str(value) if value else None


def _is_configured(gateway: GatewayName) -> bool:
    if gateway is GatewayName.RAZORPAY:
        return bool(setting("RAZORPAY_KEY_ID") and setting("RAZORPAY_KEY_SECRET"))
    if gateway is GatewayName.STRIPE:
        return bool(setting("STRIPE_SECRET_KEY"))
    return settings.mock_gateway_enabled


def enabled_gateways() -> list[GatewayName]:
    """The failover order (``GATEWAY_ORDER``), keeping only gateways with credentials."""
    return [
        GatewayName(name)
        for name in settings.gateway_order
        if name in GatewayName._value2member_map_ and _is_configured(GatewayName(name))
    ]


def candidates(method_type: MethodType, preferred: GatewayName | None, in_currency: str) -> list[GatewayName]:
    """Gateways to try, in order: the preferred one first, then the rest that support the method
    and take payments in ``in_currency`` (the wallet's: money never changes currency on the way)."""
    enabled = [
        gateway
        for gateway in enabled_gateways()
        if method_type in SUPPORT[gateway] and currency(gateway) == in_currency
    ]
    if preferred in enabled:
        enabled.remove(preferred)
        enabled.insert(0, preferred)
    return enabled


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
