"""Deposits: initiate (order at a gateway, with failover), confirm, and the one exactly-once path
by which confirm, webhook and sweeper settle a payment.

A deposit is a transaction record that is PENDING until a gateway says the payment was captured
(credit the wallet, COMPLETED) or failed (FAILED). The credit and the status change are one
ledger write keyed by the transaction, so whichever report comes first credits, and every later
one - any number of them, in any order - finds the entry already there.

A Razorpay order accepts several payment attempts, so a FAILED deposit can still be completed by
a later capture of the same order; the ledger entry key still allows one credit only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments.core.caller import Caller
from payments.core.clock import isoformat_z, utcnow
from payments.core.errors import (
    GatewayError,
    InvalidRequest,
    LedgerConflict,
    LimitExceeded,
    SuspiciousActivity,
)
from payments.core.ids import new_ulid
from payments.core.money import parse_amount, to_minor
from payments.flows import methods, wallets
from payments.flows.errors import PaymentDeclined, SignatureRejected
from payments.gateways import circuit, registry
from payments.gateways.base import (
    SUPPORT,
    Confirmation,
    GatewayName,
    MethodType,
    Order,
    OrderRequest,
    PaymentInfo,
    PaymentStatus,
)
from payments.gateways.errors import GatewayRejected, GatewayUnavailable, SignatureInvalid
from payments.kyc.tiers import TierLimits, limits_for
from payments.kyc.usage import LimitCharge
from payments.ledger.errors import AlreadyApplied, DuplicateRecord
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import ExtraPut, Ledger, NewTransaction, StatusChange
from payments.platform.observability import logger, metrics
from payments.store.ledger_table import PENDING_DEPOSITS, PaymentMethodItem, TransactionItem, order_key, txn_sk, user_pk

PENDING = TransactionStatus.PENDING
FAILED = TransactionStatus.FAILED


@dataclass(frozen=True)
class InitiateRequest:
    amount: Any
    payment_method_id: str
    gateway: GatewayName | None = None
    description: str | None = None
    ip_address: str | None = None


@dataclass(frozen=True)
class DepositOrder:
    """A PENDING deposit and the gateway order the client pays at."""

    transaction_id: str
    order: Order


@dataclass(frozen=True)
class Confirmed:
    """Where a deposit stands after a confirmation: COMPLETED, or still PENDING."""

    transaction_id: str
    status: TransactionStatus
    amount: int
    currency: str


def initiate(caller: Caller, request: InitiateRequest, checkout_base_url: str) -> DepositOrder:
    """Record a PENDING deposit, then open an order at the first gateway that works."""
    amount = to_minor(parse_amount(request.amount))
    tier = limits_for(caller.kyc_level)
    if amount > tier.single_transaction:
        raise LimitExceeded("Amount exceeds the single-transaction limit of your KYC level", field="amount")
    method = methods.get_method(caller.user_id, request.payment_method_id)
    _screen(caller, amount, tier.single_transaction, tier.daily_limit, request.ip_address)
    method_type = MethodType(method.type)
    if request.gateway is not None and method_type not in SUPPORT[request.gateway]:
        raise InvalidRequest(f"{request.gateway.value} does not support {method_type.value}", field="gateway")
    gateways = registry.candidates(method_type, request.gateway or GatewayName(method.gateway))
    if not gateways:
        raise InvalidRequest(f"no configured gateway supports {method_type.value}", field="payment_method_id")
    txn = _record_pending(caller.user_id, amount, registry.currency(gateways[0]), method, request.description, tier)
    last_error = "no gateway available"
    for gateway_name in gateways:
        before = circuit.state(gateway_name)
        if before.is_open:
            last_error = f"{gateway_name.value}: circuit open"
            continue
        token = methods.method_token(method) if gateway_name.value == method.gateway else None
        order_request = OrderRequest(
            reference=txn.txn_id,
            amount_minor=amount,
            currency=registry.currency(gateway_name),
            method_type=method_type,
            customer_id=caller.user_id,
            method_token=token,
            description=request.description,
        )
        try:
            order = registry.build(gateway_name, checkout_base_url).create_order(order_request)
        except GatewayUnavailable as exc:
            circuit.record_failure(gateway_name)
            metrics.add_metric(name="GatewayFailure", unit="Count", value=1)
            logger.warning(
                "gateway unavailable, failing over", extra={"gateway": gateway_name.value, "error": str(exc)}
            )
            last_error = f"{gateway_name.value}: unavailable"
            continue
        except GatewayRejected as exc:
            _fail(txn, f"{gateway_name.value} rejected the order: {exc}")
            raise GatewayError(f"{gateway_name.value} rejected the order", transaction_id=txn.txn_id) from None
        circuit.record_success(gateway_name, before)
        _attach_order(caller.user_id, txn.txn_id, gateway_name, order.order_id, order.currency)
        return DepositOrder(txn.txn_id, order)
    _fail(txn, last_error)
    raise GatewayError("No payment gateway could take the order; try again shortly", transaction_id=txn.txn_id)


def _screen(caller: Caller, amount: int, single_limit: int, daily_limit: int, ip_address: str | None) -> None:
    """The fraud engine on the user's recent history: review or block is PAY_006 for a deposit.
    Imported here: confirm, webhooks and the sweeper share this module and never screen."""
    from payments.guards import risk, security_events

    now = utcnow()
    assessment = risk.assess(
        "DEPOSIT", amount, now, risk.recent_history(caller.user_id, now), single_limit, daily_limit
    )
    security_events.record(caller.user_id, "DEPOSIT", amount, assessment, ip_address, "deposit_initiate")
    if assessment.decision != risk.Decision.ALLOW:
        raise SuspiciousActivity(indicators=list(assessment.indicators))


def _record_pending(
    user_id: str, amount: int, currency: str, method: PaymentMethodItem, description: str | None, limits: TierLimits
) -> TransactionItem:
    """The PENDING deposit and its KYC usage reservation, in one write (PAY_005 if over a limit)."""
    now = utcnow()
    txn_id = f"txn_{new_ulid()}"
    charge = LimitCharge.charge(amount, now, limits)
    change = NewTransaction(
        txn_id,
        TransactionType.DEPOSIT,
        PENDING,
        currency=currency,
        description=description or "Wallet top-up",
        attributes=methods.charged_to(method, charge, ("gsi2pk", PENDING_DEPOSITS), ("gsi2sk", isoformat_z(now))),
    )
    return Ledger().open(user_id, amount, change, charge)


def _attach_order(user_id: str, txn_id: str, gateway: GatewayName, order_id: str, currency: str) -> None:
    TransactionItem(user_pk(user_id), txn_sk(txn_id)).update(
        actions=[
            TransactionItem.gateway.set(gateway.value),
            TransactionItem.gateway_order_id.set(order_id),
            TransactionItem.currency.set(currency),
            TransactionItem.gsi1pk.set(order_key(gateway.value, order_id)),
            TransactionItem.updated_at.set(utcnow()),
        ],
        condition=TransactionItem.status == str(PENDING),
    )


def _fail(txn: TransactionItem, reason: str) -> None:
    change = StatusChange(txn.txn_id, (PENDING,), FAILED, failure_reason=reason)
    Ledger().transition(txn.user_id, change, limit=_give_back(txn))


def _give_back(txn: TransactionItem) -> LimitCharge | None:
    """A deposit that fails does not count against the limits: its reservation is returned."""
    return LimitCharge.give_back(txn.amount, txn.limit_day, txn.limit_month)


def load(user_id: str, txn_id: str) -> TransactionItem:
    """The caller's own deposit; anyone else's id is not found."""
    return wallets.own_transaction(user_id, txn_id, TransactionType.DEPOSIT)


def confirm(caller: Caller, txn_id: str, payment_id: str, gateway_data: dict[str, Any]) -> Confirmed:
    """Verify the client's confirmation by the gateway's own scheme, then settle exactly once."""
    txn = load(caller.user_id, txn_id)
    if txn.status == TransactionStatus.COMPLETED:
        return Confirmed(txn.txn_id, TransactionStatus.COMPLETED, txn.amount, txn.currency)
    if not txn.gateway or not txn.gateway_order_id:
        raise InvalidRequest("This deposit has no gateway order to confirm", transaction_id=txn_id)
    gateway = registry.build(GatewayName(txn.gateway))
    try:
        info = gateway.verify_confirmation(
            txn.gateway_order_id, txn.amount, txn.currency, Confirmation(payment_id, gateway_data)
        )
    except SignatureInvalid:
        logger.warning("deposit confirmation refused", extra={"transaction_id": txn_id, "gateway": txn.gateway})
        raise SignatureRejected(transaction_id=txn_id) from None
    except GatewayRejected as exc:
        raise PaymentDeclined(str(exc), transaction_id=txn_id) from None
    except GatewayUnavailable:
        raise GatewayError(
            "The gateway could not be reached; the deposit stays pending", transaction_id=txn_id
        ) from None
    outcome = settle(txn, info)
    if info.status == PaymentStatus.FAILED:
        raise PaymentDeclined(info.failure_reason or "The payment failed", transaction_id=txn_id)
    status = (
        TransactionStatus.COMPLETED if outcome in ("credited", "already_applied") else TransactionStatus(txn.status)
    )
    return Confirmed(txn.txn_id, status, txn.amount, txn.currency)


def settle(txn: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...] = ()) -> str:
    """The only way a deposit's payment result reaches the ledger (confirm, webhook, sweeper).

    Returns what happened: ``credited``, ``failed``, ``already_applied``, ``pending`` or
    ``mismatch``. Raises :class:`DuplicateRecord` when an ``extra`` record (the webhook event)
    exists already, in which case nothing at all was written.
    """
    ledger = Ledger()
    if info.status == PaymentStatus.CAPTURED:
        if info.amount_minor != txn.amount or info.currency.upper() != txn.currency.upper():
            logger.error(
                "captured amount differs from the deposit; not credited",
                extra={"transaction_id": txn.txn_id, "captured": info.amount_minor, "expected": txn.amount},
            )
            metrics.add_metric(name="DepositAmountMismatch", unit="Count", value=1)
            return "mismatch"
        change = StatusChange(
            txn.txn_id,
            (PENDING, FAILED),
            TransactionStatus.COMPLETED,
            attributes=(("gateway_payment_id", info.payment_id),),
        )
        # A capture after the deposit failed (another attempt on the same order) counts again;
        # the money has moved, so it is charged without enforcing the limit.
        recharge = LimitCharge.charge(txn.amount, utcnow(), None) if txn.status == str(FAILED) else None
        try:
            ledger.credit(txn.user_id, txn.amount, change, extra, limit=recharge)
        except DuplicateRecord:
            raise
        except (AlreadyApplied, LedgerConflict):
            return "already_applied"
        metrics.add_metric(name="DepositCredited", unit="Count", value=1)
        return "credited"
    if info.status == PaymentStatus.FAILED:
        change = StatusChange(txn.txn_id, (PENDING,), FAILED, failure_reason=info.failure_reason or "payment failed")
        try:
            ledger.transition(txn.user_id, change, extra, limit=_give_back(txn))
        except DuplicateRecord:
            raise
        except LedgerConflict:
            return "already_applied"
        return "failed"
    return "pending"
