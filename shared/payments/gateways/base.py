"""The gateway interface every adapter implements, and the value types that cross it.

Amounts cross the interface as integer minor units (paise, cents) with an ISO currency code,
the way both Razorpay and Stripe count them; adapters never see ``Decimal`` or ``float``.

Every call has three outcomes (docs/decisions.md): it returns (the gateway said yes, or told us
where things stand), it raises :class:`~payments.gateways.errors.GatewayRejected` (a definite
no: nothing was done), or it raises :class:`~payments.gateways.errors.GatewayUnavailable` (we do
not know: a timeout, a reset, a 5xx after the request was sent). Writes carry our reference as
their idempotency key, and each kind of write can be found again by that reference, so an
unknown outcome is resolved by asking, never by guessing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

#: Gateways whose order can be paid by more than one payment (Razorpay orders take several
#: attempts; a Stripe PaymentIntent succeeds at most once, and the Mock's order is paid once).
SEVERAL_PAYMENTS_PER_ORDER = frozenset({GatewayName.RAZORPAY})


class PaymentStatus(StrEnum):
    CAPTURED = "CAPTURED"  # the money is ours: credit the wallet
    AUTHORIZED = "AUTHORIZED"  # approved, not captured yet: capture it, credit nothing yet
    PENDING = "PENDING"  # not paid, and the order can still be paid (a failed attempt is PENDING)
    FAILED = "FAILED"  # the order can no longer be paid (cancelled, closed): the deposit fails


class EventKind(StrEnum):
    PAYMENT_CAPTURED = "PAYMENT_CAPTURED"
    PAYMENT_AUTHORIZED = "PAYMENT_AUTHORIZED"
    PAYMENT_ATTEMPT_FAILED = "PAYMENT_ATTEMPT_FAILED"  # one attempt failed; the order is still payable
    PAYMENT_FAILED = "PAYMENT_FAILED"  # the order can no longer be paid
    REFUND_PROCESSED = "REFUND_PROCESSED"
    REFUND_FAILED = "REFUND_FAILED"
    PAYOUT_PROCESSED = "PAYOUT_PROCESSED"
    PAYOUT_FAILED = "PAYOUT_FAILED"
    PAYOUT_REVERSED = "PAYOUT_REVERSED"
    DISPUTE_CREATED = "DISPUTE_CREATED"
    DISPUTE_WON = "DISPUTE_WON"  # nothing is taken (Razorpay's "closed" too)
    DISPUTE_LOST = "DISPUTE_LOST"  # the disputed amount is taken
    IGNORED = "IGNORED"  # a verified event we do not act on


class DisputeStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


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
    failure_reason: str | None = None  # why the order failed, or why its last attempt did


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # PENDING | PROCESSED | FAILED
    amount_minor: int
    currency: str | None = None


@dataclass(frozen=True)
class PayoutRequest:
    reference: str  # our withdrawal id, the idempotency key
    amount_minor: int
    currency: str
    method_type: MethodType
    destination_token: str  # gateway token of the payout-capable method (fund account, bank account)
    description: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class PayoutResult:
    payout_id: str
    status: str  # PENDING | PROCESSING | PROCESSED | FAILED
    amount_minor: int | None = None
    currency: str | None = None


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
    occurred_at: int | None = None  # when the gateway created the event (epoch seconds)
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


class RecordKind(StrEnum):
    """The kinds of money a gateway moves for us, as reconciliation compares them."""

    DEPOSIT = "DEPOSIT"  # a payment captured
    REFUND = "REFUND"  # a refund processed
    PAYOUT = "PAYOUT"  # a payout paid


@dataclass(frozen=True)
class GatewayRecord:
    """One movement of money the gateway has on its books (:meth:`PaymentGateway.settled_records`).

    ``gateway_id`` is the gateway's own id (payment, refund or payout id); ``order_id`` the order
    or PaymentIntent a payment belongs to; ``payment_id`` the payment a refund refunds;
    ``our_reference`` the id of ours the gateway echoes (a refund's receipt or metadata, a
    payout's reference), when it does. ``created_at`` is when the gateway recorded it (UTC)."""

    kind: RecordKind
    gateway_id: str
    amount_minor: int
    currency: str
    status: str  # the gateway's own status word (captured, processed, paid...)
    created_at: datetime
    our_reference: str | None = None
    order_id: str | None = None
    payment_id: str | None = None


class PaymentGateway(Protocol):
    """One payment provider. Every write carries an idempotency key derived from ``reference``,
    so a retried call never creates a second order, refund or payout, and every write can be
    found again by that reference."""

    name: GatewayName

    def create_order(self, request: OrderRequest) -> Order:
        """Razorpay order / Stripe PaymentIntent / Mock order."""
        ...

    def reopen_order(self, order_id: str, request: OrderRequest) -> Order:
        """What the client needs to pay an order created before (a retried initiate)."""
        ...

    def verify_confirmation(
        self, order_id: str, amount_minor: int, currency: str, confirmation: Confirmation
    ) -> PaymentInfo:
        """Check the client's confirmation against OUR stored order (never the client's copy of
        it), then report where the payment really stands (a signature proves the payment belongs
        to the order, not that it was captured). Raises SignatureInvalid for a forgery."""
        ...

    def fetch_payment(self, order_id: str) -> PaymentInfo | None:
        """The payment state of an order; None while nothing was attempted."""
        ...

    def capture_payment(self, payment_id: str, amount_minor: int, currency: str) -> PaymentInfo:
        """Capture an authorized payment (manual-capture accounts); report where it stands."""
        ...

    def close_order(self, order_id: str) -> PaymentInfo | None:
        """Make the order unpayable where the gateway allows it, and report its final state:
        CAPTURED if it was paid meanwhile, FAILED once nothing can be captured any more. A
        gateway that cannot close orders reports FAILED when nothing is paid; money arriving
        later is handled as late money (docs/decisions.md)."""
        ...

    def refund(self, payment_id: str, amount_minor: int, currency: str, reference: str) -> RefundResult: ...

    def find_refund(self, payment_id: str, reference: str) -> RefundResult | None:
        """The refund made under our ``reference``, or None when the gateway has none."""
        ...

    def payout(self, request: PayoutRequest) -> PayoutResult: ...

    def payout_status(self, payout_id: str) -> PayoutResult:
        """The payout's current status (PENDING | PROCESSING | PROCESSED | FAILED)."""
        ...

    def find_payout(self, reference: str, since: datetime) -> PayoutResult | None:
        """The payout made under our ``reference`` (requested at or after ``since``), or None when
        the gateway confirms it has none."""
        ...

    def dispute_status(self, dispute_id: str) -> DisputeStatus: ...

    def parse_webhook(self, raw_body: str, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify the signature over the raw body FIRST (raise SignatureInvalid), then normalise."""
        ...

    def settled_records(self, since: datetime, until: datetime) -> Iterator[GatewayRecord]:
        """Every movement of money the gateway recorded in ``[since, until)``: payments captured,
        refunds processed, payouts paid (and not reversed since), all pages of them. Nothing in
        flight or failed: a payment only authorized, a refund pending, a payout processing or
        failed moved no money. Raises GatewayUnavailable (or GatewayRejected) while iterating when
        the gateway cannot list them; the records yielded before are then not the whole set."""
        ...
