"""Every environment variable the layer reads, declared once: name, type, default, meaning.

No other module of the layer touches ``os.environ`` (a test walks the package to make sure), and
the README's configuration table lists every name declared here (another test compares them).

Values are read when used, not at import: a cold start pays for nothing it does not read, a
warm container sees the environment it runs with, and tests change a setting the one way
Lambda does, through the environment (``monkeypatch.setenv``). Parsing is a dict lookup and an
``int()``; settings that hold JSON are parsed by their owner and cached by their raw text.

An empty value counts as unset: the template writes ``""`` for optional parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")

#: Variables the running function does not have. In Lambda that is none: a function's environment
#: is its own process's. The local stack runs every function in one process and hides, per
#: invocation, the variables the template gives only to other functions (``local/runtime.py``), so
#: a function missing a variable in the template fails locally the way it would in AWS.
hidden_variables: ContextVar[frozenset[str]] = ContextVar("hidden_variables", default=frozenset())


def _flag(raw: str) -> bool:
    return raw.strip().lower() == "true"


def _names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _origins(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())


class Env(Generic[T]):
    """One environment variable. As a class attribute of :class:`Settings` it reads itself."""

    __slots__ = ("default", "meaning", "name", "parse", "secret")

    def __init__(
        self, name: str, default: str, parse: Callable[[str], T], meaning: str, *, secret: bool = False
    ) -> None:
        self.name = name
        self.default = default
        self.parse = parse
        self.meaning = meaning
        #: Also looked up in the gateway secret (``GATEWAY_SECRETS_ARN``) when the variable is unset.
        self.secret = secret

    def from_environment(self) -> str | None:
        """The variable's own value, or None when it is unset or empty (the default not applied)."""
        if self.name in hidden_variables.get():
            return None
        return os.environ.get(self.name) or None

    def read(self) -> T:
        return self.parse(self.from_environment() or self.default)

    @overload
    def __get__(self, instance: None, owner: type) -> Env[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Env[T] | T:
        return self if instance is None else self.read()


class Settings:
    """``settings.sweeper_min_age_minutes`` -> ``int``; ``Settings.sweeper_min_age_minutes`` -> its :class:`Env`."""

    # --- AWS resources (set by Lambda or the template)
    aws_region = Env("AWS_REGION", "", str, "AWS region (set by Lambda)")
    aws_default_region = Env("AWS_DEFAULT_REGION", "us-east-1", str, "region when AWS_REGION is unset")
    ledger_table_name = Env("LEDGER_TABLE_NAME", "payments-ledger", str, "the ledger table")
    ops_table_name = Env("OPS_TABLE_NAME", "payments-ops", str, "the ops table (idempotency, webhook events...)")
    audit_table_name = Env("AUDIT_TABLE_NAME", "payments-audit", str, "the audit table (hash-chained audit trail)")
    audit_anchor_log_group = Env(
        "AUDIT_ANCHOR_LOG_GROUP", "", str, "CloudWatch Logs group the audit chain heads are anchored to"
    )
    payments_kms_key_id = Env("PAYMENTS_KMS_KEY_ID", "", str, "KMS key for envelope encryption of tokens")
    withdrawal_state_machine_arn = Env("WITHDRAWAL_STATE_MACHINE_ARN", "", str, "the withdrawal saga")
    event_bus_name = Env("EVENT_BUS_NAME", "", str, "the EventBridge bus the domain events are published to")
    domain_events_failures_queue_url = Env(
        "DOMAIN_EVENTS_FAILURES_QUEUE_URL", "", str, "where Lambda puts the stream ranges it gave up publishing"
    )
    public_api_url = Env("PUBLIC_API_URL", "", str, "base URL for links, when a custom domain maps the API")
    cors_allowed_origins = Env(
        "CORS_ALLOWED_ORIGINS", "", _origins, "comma-separated web origins allowed by CORS (empty: CORS off)"
    )

    wallet_currency = Env("WALLET_CURRENCY", "INR", str.upper, "the currency every wallet holds")

    # --- limits, rate limits, fraud
    kyc_limits_json = Env("KYC_LIMITS_JSON", "", str, "JSON overriding the spec's KYC limits")
    rate_limit_requests = Env("RATE_LIMIT_REQUESTS", "100", int, "default requests per window per user")
    rate_limit_window_minutes = Env("RATE_LIMIT_WINDOW_MINUTES", "15", int, "default rate-limit window")
    rate_limits_json = Env("RATE_LIMITS_JSON", "", str, "JSON overriding the rate limit of any route")
    webhook_rate_limit_per_minute = Env("WEBHOOK_RATE_LIMIT_PER_MINUTE", "1000", int, "verified webhooks per gateway")
    risk_config_json = Env("RISK_CONFIG_JSON", "", str, "JSON overriding fraud weights and thresholds")
    withdrawal_review_amount = Env(
        "WITHDRAWAL_REVIEW_AMOUNT", "10000.00", str, "withdrawals from this wait for an admin"
    )

    # --- jobs and the saga
    sweeper_min_age_minutes = Env("SWEEPER_MIN_AGE_MINUTES", "10", int, "age before the sweeper re-queries a deposit")
    deposit_expiry_hours = Env("DEPOSIT_EXPIRY_HOURS", "24", int, "age at which an unpaid deposit fails")
    approval_timeout_seconds = Env("APPROVAL_TIMEOUT_SECONDS", "604800", int, "how long the saga waits for an admin")
    payout_timeout_seconds = Env("PAYOUT_TIMEOUT_SECONDS", "86400", int, "how long it waits for the payout webhook")
    audit_chain_lag_minutes = Env(
        "AUDIT_CHAIN_LAG_MINUTES", "30", int, "audit records unchained longer than this are reported"
    )

    # --- authentication
    jwt_secret_arn = Env("JWT_SECRET_ARN", "", str, "Secrets Manager secret with the HS256 key")
    jwt_secret_parameter = Env("JWT_SECRET_PARAMETER", "", str, "or an SSM SecureString parameter name")
    jwt_secret_key = Env("JWT_SECRET_KEY", "", str, "the HS256 key itself (local runs and tests)")
    jwt_algorithm = Env("JWT_ALGORITHM", "HS256", str, "HS256, HS384 or HS512")
    jwt_audience = Env("JWT_AUDIENCE", "", str, "checked when set")
    jwt_issuer = Env("JWT_ISSUER", "", str, "checked when set")

    # --- gateways
    gateway_secrets_arn = Env("GATEWAY_SECRETS_ARN", "", str, "JSON secret with the gateway credentials")
    gateway_order = Env("GATEWAY_ORDER", "razorpay,stripe,mock", _names, "failover order of the gateways")
    mock_gateway_enabled = Env("MOCK_GATEWAY_ENABLED", "false", _flag, "the Mock gateway and its routes")
    mock_webhook_function_name = Env("MOCK_WEBHOOK_FUNCTION_NAME", "", str, "where the Mock delivers webhooks")
    circuit_failure_threshold = Env("CIRCUIT_FAILURE_THRESHOLD", "3", int, "failures that open a gateway circuit")
    circuit_cooldown_seconds = Env("CIRCUIT_COOLDOWN_SECONDS", "60", int, "how long an open circuit stays open")
    gateway_reconciliation_grace_minutes = Env(
        "GATEWAY_RECONCILIATION_GRACE_MINUTES",
        "15",
        int,
        "gateway reconciliation reads this far past its range's edges to match records timed across them",
    )
    razorpay_currency = Env("RAZORPAY_CURRENCY", "INR", str.upper, "currency of Razorpay deposits")
    stripe_currency = Env("STRIPE_CURRENCY", "INR", str.upper, "currency of Stripe deposits")
    mock_currency = Env("MOCK_CURRENCY", "INR", str.upper, "currency of Mock deposits")
    webhook_allowed_cidrs_razorpay = Env("WEBHOOK_ALLOWED_CIDRS_RAZORPAY", "", str, "source allow-list")
    webhook_allowed_cidrs_stripe = Env("WEBHOOK_ALLOWED_CIDRS_STRIPE", "", str, "source allow-list")
    webhook_allowed_cidrs_mock = Env("WEBHOOK_ALLOWED_CIDRS_MOCK", "", str, "source allow-list")
    razorpay_key_id = Env("RAZORPAY_KEY_ID", "", str, "Razorpay API key id", secret=True)
    razorpay_key_secret = Env("RAZORPAY_KEY_SECRET", "", str, "Razorpay API key secret", secret=True)
    razorpay_webhook_secret = Env("RAZORPAY_WEBHOOK_SECRET", "", str, "Razorpay webhook secret", secret=True)
    razorpayx_account_number = Env("RAZORPAYX_ACCOUNT_NUMBER", "", str, "RazorpayX account for payouts", secret=True)
    stripe_secret_key = Env("STRIPE_SECRET_KEY", "", str, "Stripe secret key", secret=True)
    stripe_publishable_key = Env("STRIPE_PUBLISHABLE_KEY", "", str, "Stripe publishable key", secret=True)
    stripe_webhook_secret = Env("STRIPE_WEBHOOK_SECRET", "", str, "Stripe webhook signing secret", secret=True)
    mock_secret_arn = Env("MOCK_SECRET_ARN", "", str, "the Mock's keys, generated per stack (EnableMockGateway)")
    mock_key_id = Env("MOCK_KEY_ID", "mock_key", str, "the Mock gateway's key id", secret=True)
    mock_key_secret = Env("MOCK_KEY_SECRET", "", str, "Mock signing key (unset: it verifies nothing)", secret=True)
    mock_webhook_secret = Env(
        "MOCK_WEBHOOK_SECRET", "", str, "Mock webhook key (unset: derived from MOCK_KEY_SECRET)", secret=True
    )

    # --- read by Powertools itself; declared so the configuration table is complete
    powertools_service_name = Env("POWERTOOLS_SERVICE_NAME", "payments", str, "log and metric service name")
    powertools_metrics_namespace = Env("POWERTOOLS_METRICS_NAMESPACE", "ServerlessWallet", str, "metric namespace")
    powertools_log_level = Env("POWERTOOLS_LOG_LEVEL", "INFO", str, "log level")

    @property
    def region(self) -> str:
        return self.aws_region or self.aws_default_region

    @classmethod
    def declared(cls) -> dict[str, Env[Any]]:
        """Every declared variable by its environment name."""
        return {value.name: value for value in vars(cls).values() if isinstance(value, Env)}

    @classmethod
    def named(cls, name: str) -> Env[Any]:
        """The declaration of ``name`` (for names built at run time, e.g. per gateway); an
        undeclared name is a programming error, never a silent ``None``."""
        try:
            return cls.declared()[name]
        except KeyError:
            raise KeyError(f"{name} is not declared in payments.platform.settings") from None


settings = Settings()
