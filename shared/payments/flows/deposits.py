"""Deposits: initiate (order at a gateway, with failover), confirm, and the one exactly-once path
by which confirm, webhook and the sweeper settle a payment.

A deposit is a transaction record that is PENDING until the gateway says the payment was
captured (credit the wallet, COMPLETED) or that the order can no longer be paid (FAILED). "Not
paid yet" is not "failed": a declined attempt leaves a Razorpay order or a Stripe PaymentIntent
payable, so the deposit stays PENDING and keeps its KYC usage reserved. The reservation is given
back only when the gateway can no longer capture: the intent was cancelled, the Mock order
closed, or the deposit expired and the sweeper closed its order.

Money that arrives for a deposit that had already closed (Razorpay cannot cancel orders) is late
money: it is credited only if the limits allow it now, in the same write that charges them;
otherwise it is returned to the payer (a refund that never touches the wallet) and the deposit
ends REVERSED. No sequence of client calls makes usage exceed a limit.

The credit and the status change are one ledger write keyed by the transaction, so whichever
report comes first credits, and every later one - any number, in any order - finds it done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from payments.core.caller import Caller, KycLevel
from payments.core.clock import Deadline, utcnow
from payments.core.errors import (
    GatewayError,
    GatewayRefused,
    InvalidRequest,
    LedgerConflict,
    LimitExceeded,
    SuspiciousActivity,
)
from payments.core.ids import new_ulid
from payments.core.money import parse_amount, to_minor
from payments.flows import methods, recovery, wallets
from payments.flows.errors import PaymentDeclined, SignatureRejected
from payments.gateways import circuit, registry
from payments.gateways.base import (
    SEVERAL_PAYMENTS_PER_ORDER,
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
from payments.ledger.writer import Extra, ExtraPut, Ledger, NewTransaction, StatusChange, audited
from payments.platform.observability import correlate, gateway_latency, logger, metrics
from payments.platform.settings import settings
from payments.store.errors import OrderNotAttached
from payments.store.ledger_table import PaymentMethodItem, TransactionItem, attach_order, txn_sk, user_pk

PENDING = TransactionStatus.PENDING
FAILED = TransactionStatus.FAILED
COMPLETED = TransactionStatus.COMPLETED
#: A gateway call gets at most this long, and this much of the invocation stays to record its outcome.
GATEWAY_TIMEOUT_S, RESERVE_S = 8.0, 2.0
#: Below this a gateway call is not worth starting: the deposit fails instead of timing out.
MIN_CALL_S = 1.0


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


def initiate(
    caller: Caller,
    request: InitiateRequest,
    checkout_base_url: str,
    operation_id: str | None = None,
    deadline: Deadline | None = None,
) -> DepositOrder:
    """Record a PENDING deposit (reserving its KYC usage), then open an order at the first
    gateway that works and takes the wallet's currency. With ``operation_id`` (from the
    client's Idempotency-Key) a retry resumes the deposit it started instead of starting another."""
    deadline = deadline or Deadline()
    txn_id = operation_id or f"txn_{new_ulid()}"
    correlate(txn_id)
    existing = _existing(caller.user_id, txn_id) if operation_id else None
    amount = to_minor(parse_amount(request.amount))
    tier = limits_for(caller.kyc_level)
    if existing is None and amount > tier.single_transaction:
        raise LimitExceeded("Amount exceeds the single-transaction limit of your KYC level", field="amount")
    method = methods.get_method(caller.user_id, request.payment_method_id)
    method_type = MethodType(method.type)
    if request.gateway is not None and method_type not in SUPPORT[request.gateway]:
        raise InvalidRequest(f"{request.gateway.value} does not support {method_type.value}", field="gateway")
    if (
        request.gateway is not None
        and GatewayName.MOCK in (request.gateway, method.gateway)
        and (request.gateway.value != method.gateway)
    ):
        raise InvalidRequest(
            f"a {method.gateway} method cannot be paid through {request.gateway.value}", field="gateway"
        )
    currency = settings.wallet_currency
    gateways = registry.candidates(method_type, request.gateway or GatewayName(method.gateway), currency)
    if existing is not None:
        return _resume(caller, existing, method, gateways, request, checkout_base_url, deadline)
    if not gateways:
        raise InvalidRequest(
            f"no configured gateway takes {method_type.value} payments in {currency}", field="payment_method_id"
        )
    _screen(caller, amount, tier.single_transaction, tier.daily_limit, request.ip_address)
    txn = _record_pending(caller, txn_id, amount, currency, method, request.description, tier)
    return _open_order(caller, txn, method, gateways, request.description, checkout_base_url, deadline)


def _existing(user_id: str, txn_id: str) -> TransactionItem | None:
    try:
        return TransactionItem.get(user_pk(user_id), txn_sk(txn_id), consistent_read=True)
    except TransactionItem.DoesNotExist:
        return None


def _resume(
    caller: Caller,
    txn: TransactionItem,
    method: PaymentMethodItem,
    gateways: list[GatewayName],
    request: InitiateRequest,
    checkout_base_url: str,
    deadline: Deadline,
) -> DepositOrder:
    """The deposit this key started: its order again, or the rest of what the first try did not do."""
    if txn.type != TransactionType.DEPOSIT:
        raise InvalidRequest("This Idempotency-Key belongs to another operation")
    if txn.gateway and txn.gateway_order_id:
        order_request = _order_request(caller, txn, method, GatewayName(txn.gateway), request.description)
        gateway = registry.build(GatewayName(txn.gateway), checkout_base_url, _budget(deadline))
        try:
            return DepositOrder(txn.txn_id, gateway.reopen_order(txn.gateway_order_id, order_request))
        except (GatewayUnavailable, GatewayRejected) as exc:
            raise GatewayError("The gateway could not be reached; retry shortly", transaction_id=txn.txn_id) from exc
    if txn.status != PENDING:
        raise GatewayError("No payment gateway could take the order; try again shortly", transaction_id=txn.txn_id)
    return _open_order(caller, txn, method, gateways, request.description, checkout_base_url, deadline)


def _budget(deadline: Deadline) -> float:
    return deadline.budget(GATEWAY_TIMEOUT_S, RESERVE_S)


def _order_request(
    caller: Caller, txn: TransactionItem, method: PaymentMethodItem, gateway: GatewayName, description: str | None
) -> OrderRequest:
    """A stored token belongs to its own gateway: failover goes without it (hosted checkout)."""
    token = methods.method_token(method) if gateway.value == method.gateway else None
    return OrderRequest(
        reference=txn.txn_id,
        amount_minor=txn.amount,
        currency=txn.currency,
        method_type=MethodType(method.type),
        customer_id=caller.user_id,
        method_token=token,
        description=description,
    )


def _open_order(
    caller: Caller,
    txn: TransactionItem,
    method: PaymentMethodItem,
    gateways: list[GatewayName],
    description: str | None,
    checkout_base_url: str,
    deadline: Deadline,
) -> DepositOrder:
    """Try the gateways in order. An unavailable gateway (its order may or may not exist) is
    failed over: the client never sees that order, so nobody can pay it. A refusal stops."""
    last_error = "no gateway available"
    for gateway_name in gateways:
        timeout = _budget(deadline)
        if timeout < MIN_CALL_S:
            last_error = "no time left to try another gateway"
            break
        before = circuit.state(gateway_name)
        if before.is_open:
            last_error = f"{gateway_name.value}: circuit open"
            continue
        order_request = _order_request(caller, txn, method, gateway_name, description)
        started = time.perf_counter()
        try:
            order = registry.build(gateway_name, checkout_base_url, timeout).create_order(order_request)
        except GatewayUnavailable as exc:
            gateway_latency(gateway_name.value, started)
            circuit.record_failure(gateway_name)
            metrics.add_metric(name="GatewayFailure", unit="Count", value=1)
            logger.warning(
                "gateway unavailable, failing over", extra={"gateway": gateway_name.value, "error": str(exc)}
            )
            last_error = f"{gateway_name.value}: unavailable"
            continue
        except GatewayRejected as exc:
            reason = f"{gateway_name.value} refused the order: {exc}"
            _fail(txn, reason)
            raise GatewayRefused(reason, transaction_id=txn.txn_id, gateway=gateway_name.value) from None
        gateway_latency(gateway_name.value, started)
        circuit.record_success(gateway_name, before)
        _attach_order(txn, gateway_name, order.order_id)
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
    caller: Caller,
    txn_id: str,
    amount: int,
    currency: str,
    method: PaymentMethodItem,
    description: str | None,
    limits: TierLimits,
) -> TransactionItem:
    """The PENDING deposit and its KYC usage reservation, in one write (PAY_005 if over a limit),
    on the sweeper's list from the start."""
    now = utcnow()
    charge = LimitCharge.charge(amount, now, limits)
    change = NewTransaction(
        txn_id,
        TransactionType.DEPOSIT,
        PENDING,
        currency=currency,
        description=description or "Wallet top-up",
        attributes=methods.charged_to(
            method,
            charge,
            ("kyc_level", str(caller.kyc_level)),
            *recovery.tracked(recovery.DEPOSIT, txn_id, now),
        ),
        referable=True,
    )
    return Ledger().open(caller.user_id, amount, change, charge)


def _attach_order(txn: TransactionItem, gateway: GatewayName, order_id: str) -> None:
    try:
        attach_order(txn.user_id, txn.txn_id, gateway.value, order_id, utcnow())
    except OrderNotAttached:
        raise LedgerConflict("The deposit closed while its order was being opened", transaction_id=txn.txn_id) from None


def _fail(txn: TransactionItem, reason: str, extra: tuple[Extra, ...] = ()) -> None:
    """The order can no longer be paid: FAILED, and the KYC usage it reserved given back."""
    change = StatusChange(txn.txn_id, (PENDING,), FAILED, failure_reason=reason, **audited(txn))
    Ledger().transition(txn.user_id, change, extra, limit=_give_back(txn))


def _give_back(txn: TransactionItem) -> LimitCharge | None:
    return LimitCharge.give_back(txn.amount, txn.limit_day, txn.limit_month)


def load(user_id: str, txn_id: str) -> TransactionItem:
    """The caller's own deposit; anyone else's id is not found."""
    return wallets.own_transaction(user_id, txn_id, TransactionType.DEPOSIT)


def confirm(
    caller: Caller, txn_id: str, payment_id: str, gateway_data: dict[str, Any], deadline: Deadline | None = None
) -> Confirmed:
    """Verify the client's confirmation by the gateway's own scheme, then settle exactly once.
    A payment that is not captured yet leaves the deposit PENDING; a declined attempt is
    PAYMENT_DECLINED with the deposit still open (the client may pay again)."""
    correlate(txn_id)
    txn = load(caller.user_id, txn_id)
    closed = txn.status == FAILED
    if txn.status in (COMPLETED, TransactionStatus.REVERSED) or (closed and not txn.gateway_order_id):
        return Confirmed(txn.txn_id, TransactionStatus(txn.status), txn.amount, txn.currency)
    # A FAILED deposit is still confirmed with its gateway: its order may have been paid after it
    # closed (Razorpay orders cannot be cancelled), and that late money is credited or returned.
    if not txn.gateway or not txn.gateway_order_id:
        raise InvalidRequest("This deposit has no gateway order to confirm", transaction_id=txn_id)
    gateway = registry.build(GatewayName(txn.gateway), timeout_s=_budget(deadline or Deadline()))
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
    declined = info.status is PaymentStatus.FAILED or (info.status is PaymentStatus.PENDING and info.failure_reason)
    if declined and not closed:
        raise PaymentDeclined(info.failure_reason or "The payment failed", transaction_id=txn_id)
    status = _STATUS_AFTER.get(outcome) if not closed or outcome in ("credited", "returned") else None
    if status is None:  # settled by someone else meanwhile, or still closed: say what it is now
        status = TransactionStatus((_existing(caller.user_id, txn_id) or txn).status)
    return Confirmed(txn.txn_id, status, txn.amount, txn.currency)


_STATUS_AFTER = {
    "credited": COMPLETED,
    "returned": TransactionStatus.REVERSED,
    "pending": PENDING,
    "mismatch": PENDING,
}


def settle(txn: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...] = ()) -> str:
    """The only way a deposit's payment result reaches the ledger (confirm, webhook, sweeper).

    Returns what happened: ``credited``, ``returned`` (late money over the limit, sent back),
    ``failed``, ``already_applied``, ``pending`` or ``mismatch``. Raises :class:`DuplicateRecord`
    when an ``extra`` record (the webhook event) exists already; then nothing at all was written.
    """
    if info.status is PaymentStatus.CAPTURED:
        if _another_payment(txn, info):
            from payments.flows import refunds

            return refunds.return_second_payment(txn, info, extra)
        if info.amount_minor != txn.amount or info.currency.upper() != txn.currency.upper():
            logger.error(
                "captured amount differs from the deposit; not credited, flagged for review",
                extra={"transaction_id": txn.txn_id, "captured": info.amount_minor, "expected": txn.amount},
            )
            metrics.add_metric(name="DepositAmountMismatch", unit="Count", value=1)
            if txn.status == FAILED:  # closed, and never credited: send it back whatever it is
                from payments.flows import refunds

                return refunds.return_late_payment(txn, info, extra, why="its amount differs from the deposit")
            if txn.status == PENDING:
                _flag(txn, "AMOUNT_MISMATCH")
            return "mismatch"
        if txn.status == PENDING:
            return _credit(txn, info, extra)
        if txn.status == FAILED:
            return _credit_late(txn, info, extra)
        return "already_applied"
    if info.status is PaymentStatus.FAILED:
        try:
            _fail(txn, info.failure_reason or "the order can no longer be paid", extra)
        except DuplicateRecord:
            raise
        except LedgerConflict:
            return "already_applied"
        return "failed"
    return "pending"


def _another_payment(txn: TransactionItem, info: PaymentInfo) -> bool:
    """A second payment captured on an order whose deposit was already settled by another one
    (Razorpay orders accept several payment attempts; a late authorization can be captured)."""
    return (
        txn.status in (COMPLETED, TransactionStatus.REVERSED)
        and bool(txn.gateway_payment_id and info.payment_id and info.payment_id != txn.gateway_payment_id)
        and GatewayName(txn.gateway or "mock") in SEVERAL_PAYMENTS_PER_ORDER
    )


def _flag(txn: TransactionItem, stage: str) -> None:
    """Mark an open deposit for review and look at it again later (its bound raises the alarm)."""
    try:
        TransactionItem(txn.pk, txn.sk).update(
            actions=[TransactionItem.stage.set(stage)], condition=TransactionItem.status == str(txn.status)
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return
    recovery.postpone(txn, recovery.DEPOSIT)


def _credit(txn: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...]) -> str:
    """PENDING -> COMPLETED with the credit; the usage was reserved at initiation."""
    change = StatusChange(
        txn.txn_id,
        (PENDING,),
        COMPLETED,
        currency=txn.currency,
        attributes=(("gateway_payment_id", info.payment_id),),
        **audited(txn),
    )
    try:
        Ledger().credit(txn.user_id, txn.amount, change, extra)
    except DuplicateRecord:
        raise
    except (AlreadyApplied, LedgerConflict):
        current = _existing(txn.user_id, txn.txn_id)
        if current is not None and current.status == FAILED:  # closed meanwhile: it is late money now
            return _credit_late(current, info, extra)
        return "already_applied"
    metrics.add_metric(name="DepositCredited", unit="Count", value=1)
    return "credited"


def _credit_late(txn: TransactionItem, info: PaymentInfo, extra: tuple[ExtraPut, ...]) -> str:
    """Money for a deposit that had closed and given its usage back: credited only if the KYC
    limits allow it now (charged in the same write), else returned to the payer."""
    tier = limits_for(KycLevel(txn.kyc_level or KycLevel.BASIC))
    charge = LimitCharge.charge(txn.amount, utcnow(), tier)
    attributes = (("gateway_payment_id", info.payment_id), ("limit_day", charge.day), ("limit_month", charge.month))
    change = StatusChange(
        txn.txn_id, (FAILED,), COMPLETED, currency=txn.currency, attributes=attributes, **audited(txn)
    )
    try:
        Ledger().credit(txn.user_id, txn.amount, change, extra, limit=charge)
    except DuplicateRecord:
        raise
    except LimitExceeded:
        from payments.flows import refunds

        return refunds.return_late_payment(txn, info, extra, why="over the KYC limit")
    except (AlreadyApplied, LedgerConflict):
        return "already_applied"
    metrics.add_metric(name="DepositCreditedLate", unit="Count", value=1)
    logger.warning("a payment arrived after its deposit closed; credited", extra={"transaction_id": txn.txn_id})
    return "credited"


# ---------------------------------------------------------------- the sweeper's part
def recover(txn: TransactionItem, deadline: Deadline) -> str:
    """A PENDING deposit the sweeper found due: ask its gateway, settle what is decided, close the
    order once the deposit expires, and look again later at what is still open."""
    if txn.status != PENDING:
        return "already_settled"
    age = utcnow() - txn.created_at
    expired = age.total_seconds() > settings.deposit_expiry_hours * 3600
    if not txn.gateway or not txn.gateway_order_id:
        # Initiation stopped between the record and the order: no client holds an order to pay.
        if age.total_seconds() > 15 * 60:
            _fail(txn, "no gateway order was opened")
            return "failed"
        recovery.postpone(txn, recovery.DEPOSIT)
        return "still_pending"
    gateway = registry.build(GatewayName(txn.gateway), timeout_s=_budget(deadline))
    try:
        info = gateway.fetch_payment(txn.gateway_order_id)
        if info is not None and info.status is PaymentStatus.AUTHORIZED:
            info = gateway.capture_payment(info.payment_id, txn.amount, txn.currency)
        if (info is None or info.status is PaymentStatus.PENDING) and expired:
            info = gateway.close_order(txn.gateway_order_id)
    except (GatewayUnavailable, GatewayRejected) as exc:
        logger.warning("sweeper could not query the gateway", extra={"transaction_id": txn.txn_id, "error": str(exc)})
        recovery.postpone(txn, recovery.DEPOSIT)
        return "gateway_error"
    if info is None or info.status in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED):
        recovery.postpone(txn, recovery.DEPOSIT)
        return "still_pending"
    if info.status is PaymentStatus.FAILED and expired:
        info = PaymentInfo(info.payment_id, info.order_id, info.status, info.amount_minor, info.currency, _EXPIRED)
    return settle(txn, info)


_EXPIRED = "expired: no payment was completed in time"
