"""The gateway interface every adapter implements, and the value types that cross it.

Amounts cross the interface as integer minor units (paise, cents) with an ISO currency code,
the way both Razorpay and Stripe count them; adapters never see ``Decimal`` or ``float``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class GatewayName(StrEnum):
    RAZORPAY = "razorpay"
    STRIPE = "stripe"
    MOCK = "mock"


class MethodType(StrEnum):
    CARD = "CARD"
    UPI = "UPI"
    NETBANKING = "NETBANKING"
    WALLET = "WALLET"
    BANK_TRANSFER = "BANK_TRANSFER"


#: The spec's "Supported Payment Methods" table.
SUPPORT: dict[GatewayName, frozenset[MethodType]] = {
    GatewayName.RAZORPAY: frozenset(MethodType),
    GatewayName.STRIPE: frozenset({MethodType.CARD, MethodType.WALLET, MethodType.BANK_TRANSFER}),
    GatewayName.MOCK: frozenset(MethodType),
}


class PaymentStatus(StrEnum):
    CAPTURED = "CAPTURED"  # money is ours: credit the wallet
    AUTHORIZED = "AUTHORIZED"  # approved, not yet captured
    PENDING = "PENDING"  # nothing final yet
    FAILED = "FAILED"  # declined / failed: the deposit fails


class EventKind(StrEnum):
    PAYMENT_CAPTURED = "PAYMENT_CAPTURED"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    REFUND_PROCESSED = "REFUND_PROCESSED"
    REFUND_FAILED = "REFUND_FAILED"
    PAYOUT_PROCESSED = "PAYOUT_PROCESSED"
    PAYOUT_FAILED = "PAYOUT_FAILED"
    PAYOUT_REVERSED = "PAYOUT_REVERSED"
    DISPUTE_CREATED = "DISPUTE_CREATED"
    DISPUTE_WON = "DISPUTE_WON"
    DISPUTE_LOST = "DISPUTE_LOST"
    IGNORED = "IGNORED"  # a verified event we do not act on


@dataclass(frozen=True)
class OrderRequest:
    reference: str  # our transaction id: Razorpay receipt, Stripe idempotency key and metadata
    amount_minor: int
    currency: str
    method_type: MethodType
    customer_id: str
    method_token: str | None = None  # the stored payment method's gateway token, if any
    description: str | None = None


@dataclass(frozen=True)
class Order:
    gateway: GatewayName
    order_id: str  # Razorpay order id, Stripe PaymentIntent id, Mock order id
    amount_minor: int
    currency: str
    checkout_url: str
    key: str  # what the client needs to open checkout: Razorpay key_id / Stripe publishable key
    client_secret: str | None = None  # Stripe PaymentIntent client_secret for Stripe.js


@dataclass(frozen=True)
class Confirmation:
    """What the client got back from checkout and sends to ``/deposits/confirm``."""

    payment_id: str
    data: Mapping[str, Any]  # the spec's gateway_data, e.g. razorpay_order_id, razorpay_signature


@dataclass(frozen=True)
class PaymentInfo:
    payment_id: str
    order_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    failure_reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # PENDING | PROCESSED | FAILED
    amount_minor: int


@dataclass(frozen=True)
class PayoutRequest:
    reference: str  # our withdrawal id, the idempotency key
    amount_minor: int
    currency: str
    method_type: MethodType
    destination_token: str  # gateway token of the payout-capable method (fund account, bank account)
    description: str | None = None


@dataclass(frozen=True)
class PayoutResult:
    payout_id: str
    status: str  # PENDING | PROCESSING | PROCESSED | FAILED


@dataclass(frozen=True)
class WebhookEvent:
    """A verified gateway event, normalised. ``event_id`` is the gateway's own id (dedupe key)."""

    gateway: GatewayName
    event_id: str
    kind: EventKind
    raw_type: str
    order_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    payout_id: str | None = None
    dispute_id: str | None = None
    reference: str | None = None  # our id carried by the gateway object (payout/refund reference)
    amount_minor: int | None = None
    currency: str | None = None
    failure_reason: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class PaymentGateway(Protocol):
    """One payment provider. Every write carries an idempotency key derived from ``reference``,
    so a retried call never creates a second order, refund or payout."""

    name: GatewayName

    def create_order(self, request: OrderRequest) -> Order:
        """Razorpay order / Stripe PaymentIntent / Mock order.
        Raises GatewayUnavailable or GatewayRejected."""
        ...

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        """Check the client's confirmation against OUR stored order (never the client's copy of it).
        Raises SignatureInvalid (forged/mismatched) or GatewayRejected (e.g. not succeeded)."""
        ...

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The payment state of an order, for the sweeper; None while nothing was attempted."""
        ...

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult: ...

    def payout(self, request: PayoutRequest) -> PayoutResult: ...

    def payout_status(self, payout_id: str) -> PayoutResult:
        """The payout's current status (PENDING | PROCESSING | PROCESSED | FAILED)."""
        ...

    def parse_webhook(self, raw_body: str, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify the signature over the raw body FIRST (raise SignatureInvalid), then normalise."""
        ...
