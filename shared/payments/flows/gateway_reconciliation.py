"""Reconciliation against the gateways: for a date range ``[since, until)``, our completed money
records and each gateway's own records, matched by the ids both sides keep. A report, never an
edit: what differs is for an operator to decide (docs/runbook.md).

What is compared, per gateway:

- deposits: each payment the gateway captured, against our deposit that it settled - COMPLETED
  (credited), or REVERSED (late money sent back: captured all the same) - matched by payment id,
  our reference, or order id (Razorpay orders take several payments: there the payment id must be
  the deposit's). A captured payment we sent back as a second payment (``ret_<payment>``) is
  accounted for by that return.
- refunds: each refund the gateway processed, against our COMPLETED refund, by our reference
  (the refund's receipt or metadata) or the gateway's refund id; a refund the gateway made after
  we had reversed it is our reinstated refund (``<refund>_again``).
- payouts: each payout the gateway paid, against our COMPLETED withdrawal, by our reference or the
  payout id. A withdrawal whose payout bounced and was credited back (``<withdrawal>_reversal``)
  paid out nothing in the end, like a gateway payout that was reversed or failed.

Each difference is one of :class:`Category`: ``ours_only`` (we recorded money the gateway has no
record of), ``gateway_only`` (the gateway moved money we have no completed record of: a payment
captured but never credited, a payout paid while our withdrawal was released - ``our_status``
says where our record stands), ``amount_differs``, ``currency_differs`` (checked first: amounts in
two currencies do not compare). Matched records are counted per gateway and kind.

Edges. Both sides are read ``GATEWAY_RECONCILIATION_GRACE_MINUTES`` (15) past each edge of the
range, so a deposit credited at 23:59:59 and captured at 00:00:01 matches; only a record whose own
time is inside the range is reported, and a pair is counted when either side is. Beyond the
window, a record of one side that the other side's listing lacks is looked for again by id before
it is reported: ours through the pointer items (``ORDER#``, ``REF#``), strongly consistent; the
gateway's through the adapter's own lookups (``fetch_payment``, ``find_refund``, ``payout_status``,
``find_payout``), at most :data:`CONFIRM_LIMIT` per gateway. So money that moved on the two sides
far apart in time (a Stripe payout paid two days after it was created, a deposit confirmed late)
is a match, not two differences in two reports. The time of our record is its ``completed_at``;
the gateway's is when it recorded the money (its ``created`` time).

Our side is read with one paged ``Scan`` of the ledger table, filtered on ``completed_at`` in the
window and on type and status, and projected to the fields matching needs. No index spans users
by completion time (``by-time`` is per user, ``inflight`` holds open records only), and adding
one would mean a new attribute on every final transition in the ledger writer plus a template
change; the Scan reads the table once per run (its read capacity is the cost) but holds only a
page at a time, and memory grows with the records completed in the window, not with the table.
One gateway failing never stops the others.

Three outcomes: a gateway that cannot list its records (timeout, 5xx, or a refusal such as bad
credentials) makes its report ``complete=False`` with the ``error``, and nothing is concluded
from a partial listing: no differences, no matches. A lookup that fails after a complete listing
keeps the difference it was meant to check, and the report is ``complete=False`` too.

How to wire (the scheduled job, its report, metrics and template are wired elsewhere):

- a function with the ``GatewaysLayer`` (the razorpay and stripe SDKs), a timeout of up to 900 s
  and, in its environment, ``GATEWAY_SECRETS_ARN: !Ref GatewaySecret`` (the Globals already give
  the table names, ``GATEWAY_ORDER``, ``MOCK_GATEWAY_ENABLED``, ``MOCK_SECRET_ARN``);
  ``GATEWAY_RECONCILIATION_GRACE_MINUTES`` optionally;
- IAM:

  - ``dynamodb:Scan`` and ``dynamodb:GetItem`` on ``!GetAtt LedgerTable.Arn`` (the range Scan;
    ``REF#``/``ORDER#`` pointers, transactions, reversal credits and a refund's deposit). No
    index is read.
  - ``secretsmanager:GetSecretValue`` on ``!Ref GatewaySecret``.
  - with the Mock (``MockEnabled``): ``dynamodb:Scan`` and ``dynamodb:GetItem`` on
    ``!GetAtt OpsTable.Arn`` (the Mock's store is its API) and ``secretsmanager:GetSecretValue``
    on ``!Ref MockGatewaySecret``.
  - no KMS grant: both tables and both secrets use AWS managed keys. Outbound HTTPS to
    api.razorpay.com and api.stripe.com (no VPC).

- ``GatewayReconciliationReport.to_dict()`` is JSON-ready for the ops table and the function's
  answer; ``complete``, ``matched`` and ``totals`` are what metrics would count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from payments.core.clock import isoformat_z
from payments.gateways import registry
from payments.gateways.base import (
    SEVERAL_PAYMENTS_PER_ORDER,
    GatewayName,
    GatewayRecord,
    PaymentGateway,
    PaymentStatus,
    RecordKind,
)
from payments.gateways.errors import GatewayRejected, GatewayUnavailable
from payments.ledger.types import (
    TransactionStatus,
    TransactionType,
    payment_return_id,
    payout_reversal_id,
    reinstated_refund_id,
)
from payments.platform.observability import logger
from payments.platform.settings import settings
from payments.store.ledger_table import TransactionItem, find_by_order, find_by_reference, transaction

#: Records of one side looked for again at the other per gateway and run, at most: a listing that
#: came back short must not turn a report into thousands of single lookups. Past it, differences
#: are reported as the listings left them and the report is incomplete.
CONFIRM_LIMIT = 200

COMPLETED, REVERSED, FAILED = TransactionStatus.COMPLETED, TransactionStatus.REVERSED, TransactionStatus.FAILED
_KIND_OF: dict[str, RecordKind] = {
    TransactionType.DEPOSIT: RecordKind.DEPOSIT,
    TransactionType.REFUND: RecordKind.REFUND,
    TransactionType.WITHDRAWAL: RecordKind.PAYOUT,
}
#: What the Scan reads of each transaction.
_FIELDS = (
    "pk",
    "sk",
    "txn_id",
    "user_id",
    "type",
    "status",
    "amount",
    "currency",
    "created_at",
    "completed_at",
    "gateway",
    "gateway_order_id",
    "gateway_payment_id",
    "gateway_refund_id",
    "gateway_payout_id",
    "reference_id",
    "parent_txn_id",
    "wallet_debited",
)


class Category(StrEnum):
    OURS_ONLY = "ours_only"
    GATEWAY_ONLY = "gateway_only"
    AMOUNT_DIFFERS = "amount_differs"
    CURRENCY_DIFFERS = "currency_differs"


@dataclass(frozen=True)
class Difference:
    """One record that does not agree. Amounts are minor units; ``txn_id``/``user_id``/
    ``our_status`` are our record's, when there is one (a released withdrawal, a PENDING deposit)."""

    kind: RecordKind
    category: Category
    txn_id: str | None
    user_id: str | None
    gateway_id: str | None
    our_amount: int | None
    gateway_amount: int | None
    our_currency: str | None
    gateway_currency: str | None
    our_status: str | None
    detail: str


@dataclass
class GatewayReport:
    """One gateway's part. ``complete`` is False when it could not be asked everything (``error``
    says why): then it is never "all matched", whatever its lists hold."""

    gateway: str
    complete: bool = True
    matched: dict[str, int] = field(default_factory=lambda: {kind.value: 0 for kind in RecordKind})
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None


@dataclass
class GatewayReconciliationReport:
    since: datetime
    until: datetime
    grace: timedelta
    gateways: dict[str, GatewayReport]

    @property
    def complete(self) -> bool:
        return all(report.complete for report in self.gateways.values())

    @property
    def matched(self) -> dict[str, int]:
        """Matched records of every gateway, per kind."""
        return {kind.value: sum(report.matched[kind.value] for report in self.gateways.values()) for kind in RecordKind}

    @property
    def totals(self) -> dict[str, int]:
        """Differences of every gateway, per category."""
        found = [difference.category for report in self.gateways.values() for difference in report.differences]
        return {category.value: found.count(category) for category in Category}

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": isoformat_z(self.since),
            "until": isoformat_z(self.until),
            "grace_minutes": int(self.grace.total_seconds() // 60),
            "complete": self.complete,
            "matched": self.matched,
            "totals": self.totals,
            "gateways": {name: asdict(report) for name, report in self.gateways.items()},
        }


def reconcile_gateways(
    since: datetime, until: datetime, gateways: Iterable[GatewayName] | None = None
) -> GatewayReconciliationReport:
    """Match our completed deposits, refunds and withdrawals of ``[since, until)`` (timezone-aware
    datetimes) with each gateway's records (default: every configured gateway) and report what
    differs. Reads only; raises only when our own table cannot be read."""
    if since.tzinfo is None or until.tzinfo is None or since >= until:
        raise ValueError("since and until are timezone-aware datetimes, since before until")
    names = list(gateways) if gateways is not None else registry.enabled_gateways()
    grace = timedelta(minutes=settings.gateway_reconciliation_grace_minutes)
    books = _read_ours(since - grace, until + grace, {name.value for name in names})
    reports = {
        name.value: _Reconciler(name, since, until, grace, books.get(name.value) or _Book()).run() for name in names
    }
    return GatewayReconciliationReport(since, until, grace, reports)


# ---------------------------------------------------------------- our side
@dataclass(frozen=True)
class _Ours:
    """One of our records as matching sees it. ``reference`` is the id the gateway knows it by
    (a reinstated refund is known by the refund it reinstates); ``gateway_id`` the gateway's id
    we stored (payment, refund or payout id)."""

    kind: RecordKind
    txn_id: str
    user_id: str
    status: str
    amount: int
    currency: str
    at: datetime
    created_at: datetime
    reference: str
    gateway_id: str | None
    order_id: str | None = None
    payment_id: str | None = None  # refunds: the payment refunded, when stored on the refund
    parent_txn_id: str | None = None
    returns_payment: bool = False  # a refund sending back a payment the wallet never got


@dataclass
class _Book:
    """Our records of one gateway in the window, indexed by every id a gateway record may carry."""

    records: list[_Ours] = field(default_factory=list)
    by_id: dict[tuple[RecordKind, str], _Ours] = field(default_factory=dict)
    by_reference: dict[tuple[RecordKind, str], _Ours] = field(default_factory=dict)
    by_order: dict[str, _Ours] = field(default_factory=dict)
    returns: dict[str, _Ours] = field(default_factory=dict)  # payment id -> the refund returning it

    def add(self, ours: _Ours) -> None:
        self.records.append(ours)
        self.by_reference[(ours.kind, ours.reference)] = ours
        if ours.gateway_id:
            self.by_id[(ours.kind, ours.gateway_id)] = ours
        if ours.kind is RecordKind.DEPOSIT and ours.order_id:
            self.by_order[ours.order_id] = ours
        if ours.returns_payment and ours.payment_id:
            self.returns[ours.payment_id] = ours


def _ours(item: TransactionItem) -> _Ours | None:
    """The record as matching sees it, if it is one that moved money at a gateway."""
    kind = _KIND_OF.get(item.type)
    settled = item.status == COMPLETED or (kind is RecordKind.DEPOSIT and item.status == REVERSED)
    if kind is None or not settled or not item.gateway:
        return None
    reference = item.txn_id
    if kind is RecordKind.REFUND and item.reference_id and item.txn_id == reinstated_refund_id(item.reference_id):
        reference = item.reference_id
    gateway_id = {
        RecordKind.DEPOSIT: item.gateway_payment_id,
        RecordKind.REFUND: item.gateway_refund_id,
        RecordKind.PAYOUT: item.gateway_payout_id,
    }[kind]
    if kind is RecordKind.DEPOSIT and item.status == REVERSED and not gateway_id:
        return None  # reversed before any payment was captured: nothing moved at the gateway
    return _Ours(
        kind=kind,
        txn_id=item.txn_id,
        user_id=item.user_id,
        status=item.status,
        amount=int(item.amount),
        currency=item.currency.upper(),
        at=item.completed_at or item.created_at,
        created_at=item.created_at,
        reference=reference,
        gateway_id=gateway_id,
        order_id=item.gateway_order_id if kind is RecordKind.DEPOSIT else None,
        payment_id=item.gateway_payment_id if kind is RecordKind.REFUND else None,
        parent_txn_id=item.parent_txn_id,
        returns_payment=kind is RecordKind.REFUND and item.wallet_debited is False,
    )


def _read_ours(low: datetime, high: datetime, gateways: set[str]) -> dict[str, _Book]:
    """Our records completed in ``[low, high)``, per gateway, from one paged, filtered Scan."""
    condition = (
        (TransactionItem.completed_at >= low)
        & (TransactionItem.completed_at < high)
        & TransactionItem.type.is_in(*(str(kind) for kind in _KIND_OF))
        & TransactionItem.status.is_in(str(COMPLETED), str(REVERSED))
    )
    books: dict[str, _Book] = {}
    for item in TransactionItem.scan(condition, page_size=500, attributes_to_get=list(_FIELDS)):
        ours = _ours(item) if item.gateway in gateways else None
        if ours is not None:
            books.setdefault(item.gateway or "", _Book()).add(ours)
    return books


def _credited_back(withdrawal: _Ours) -> bool:
    """The withdrawal's payout bounced and the money went back to the wallet: nothing paid out."""
    reversal = transaction(withdrawal.user_id, payout_reversal_id(withdrawal.txn_id))
    return reversal is not None and reversal.status == COMPLETED


# ---------------------------------------------------------------- matching, one gateway
class _Reconciler:
    def __init__(self, name: GatewayName, since: datetime, until: datetime, grace: timedelta, book: _Book) -> None:
        self.name = name
        self.since, self.until, self.grace = since, until, grace
        self.book = book
        self.report = GatewayReport(name.value)
        self.seen: set[tuple[RecordKind, str]] = set()
        self.lookups = 0

    def run(self) -> GatewayReport:
        gateway = registry.build(self.name)
        try:
            for record in gateway.settled_records(self.since - self.grace, self.until + self.grace):
                self._gateway_record(record)
        except (GatewayUnavailable, GatewayRejected) as exc:
            logger.warning("gateway records could not be listed", extra={"gateway": self.name.value, "error": str(exc)})
            return GatewayReport(self.name.value, complete=False, error=f"listing failed: {exc}")
        for ours in self.book.records:
            if (ours.kind, ours.txn_id) not in self.seen and self._inside(ours.at):
                self._our_record(gateway, ours)
        order = {kind: index for index, kind in enumerate(RecordKind)}
        self.report.differences.sort(key=lambda d: (order[d.kind], d.category, d.txn_id or "", d.gateway_id or ""))
        return self.report

    def _inside(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    # -------------------------------------------------------- from the gateway's records
    def _gateway_record(self, record: GatewayRecord) -> None:
        ours = self._in_book(record)
        returned = self.book.returns.get(record.gateway_id) if record.kind is RecordKind.DEPOSIT else None
        if ours is not None:
            self.seen.add((ours.kind, ours.txn_id))
            if self._inside(record.created_at) or self._inside(ours.at):
                self._pair(record, ours)
        elif returned is not None:  # a payment we sent back (its refund is matched on its own)
            if self._inside(record.created_at) or self._inside(returned.at):
                self._compare(record.kind, record.gateway_id, record.amount_minor, record.currency, returned)
        elif self._inside(record.created_at):
            self._unmatched_at_gateway(record)

    def _in_book(self, record: GatewayRecord) -> _Ours | None:
        kind, book = record.kind, self.book
        ours = book.by_id.get((kind, record.gateway_id))
        if ours is None and record.our_reference:
            ours = book.by_reference.get((kind, record.our_reference))
        if kind is not RecordKind.DEPOSIT:
            return ours
        if ours is None and record.order_id:
            ours = book.by_order.get(record.order_id)
        if ours is not None and not self._same_payment(ours.gateway_id, ours.order_id, record):
            return None  # another payment of the same order
        return ours

    def _same_payment(self, payment_id: str | None, order_id: str | None, record: GatewayRecord) -> bool:
        if payment_id in (record.gateway_id, record.order_id):
            return True
        return self.name not in SEVERAL_PAYMENTS_PER_ORDER and order_id is not None and order_id == record.order_id

    def _pair(self, record: GatewayRecord, ours: _Ours) -> None:
        if ours.kind is RecordKind.PAYOUT and _credited_back(ours):
            self._differ(
                Category.GATEWAY_ONLY,
                record,
                ours,
                "the gateway paid this payout; our withdrawal was credited back as if it had bounced",
            )
            return
        self._compare(record.kind, record.gateway_id, record.amount_minor, record.currency, ours)

    def _compare(
        self, kind: RecordKind, gateway_id: str, amount: int, currency: str | None, ours: _Ours | TransactionItem
    ) -> None:
        """Matched, or the amount or currency differs. A gateway that does not say the currency
        (some lookups) is taken to agree on it."""
        our_currency = str(ours.currency).upper()
        currency = (currency or our_currency).upper()
        if currency != our_currency:
            detail = f"the gateway has {currency}, we have {our_currency}"
            self._add(_difference(Category.CURRENCY_DIFFERS, kind, ours, gateway_id, amount, currency, detail))
        elif amount != int(ours.amount):
            detail = f"the gateway has {amount}, we have {ours.amount} (minor units)"
            self._add(_difference(Category.AMOUNT_DIFFERS, kind, ours, gateway_id, amount, currency, detail))
        else:
            self.report.matched[kind.value] += 1

    def _differ(
        self, category: Category, record: GatewayRecord, ours: _Ours | TransactionItem | None, detail: str
    ) -> None:
        self._add(
            _difference(category, record.kind, ours, record.gateway_id, record.amount_minor, record.currency, detail)
        )

    def _add(self, difference: Difference) -> None:
        self.report.differences.append(difference)

    def _unmatched_at_gateway(self, record: GatewayRecord) -> None:
        """Not among our records of the window: look for ours by id before reporting it."""
        if record.kind is RecordKind.DEPOSIT:
            self._captured(record)
        elif record.kind is RecordKind.REFUND:
            self._refunded(record)
        else:
            self._paid_out(record)

    def _captured(self, record: GatewayRecord) -> None:
        deposit = None
        if record.order_id:
            deposit = find_by_order(self.name.value, record.order_id)
        if deposit is None and record.our_reference:
            deposit = find_by_reference(record.our_reference)
        ours = _ours(deposit) if deposit is not None and deposit.type == TransactionType.DEPOSIT else None
        if ours is not None and self._same_payment(ours.gateway_id, ours.order_id, record):
            self._compare(record.kind, record.gateway_id, record.amount_minor, record.currency, ours)
            return
        returned = find_by_reference(payment_return_id(record.gateway_id))
        if returned is not None and returned.type == TransactionType.REFUND:
            self._compare(record.kind, record.gateway_id, record.amount_minor, record.currency, returned)
            return
        if deposit is None:
            self._differ(Category.GATEWAY_ONLY, record, None, "captured at the gateway; we have no deposit for it")
        elif ours is None:
            self._differ(
                Category.GATEWAY_ONLY, record, deposit, f"captured at the gateway; our deposit is {deposit.status}"
            )
        else:
            self._differ(
                Category.GATEWAY_ONLY,
                record,
                deposit,
                "captured at the gateway as another payment of an order our deposit settled, never returned",
            )

    def _refunded(self, record: GatewayRecord) -> None:
        refund = find_by_reference(record.our_reference) if record.our_reference else None
        if refund is not None and refund.type == TransactionType.REFUND and refund.status == FAILED:
            refund = transaction(refund.user_id, reinstated_refund_id(refund.txn_id)) or refund
        ours = _ours(refund) if refund is not None and refund.type == TransactionType.REFUND else None
        if ours is not None:
            self._compare(record.kind, record.gateway_id, record.amount_minor, record.currency, ours)
        elif refund is None:
            self._differ(Category.GATEWAY_ONLY, record, None, "refunded at the gateway; we have no refund for it")
        else:
            self._differ(
                Category.GATEWAY_ONLY, record, refund, f"refunded at the gateway; our refund is {refund.status}"
            )

    def _paid_out(self, record: GatewayRecord) -> None:
        withdrawal = find_by_reference(record.our_reference) if record.our_reference else None
        if withdrawal is None or withdrawal.type != TransactionType.WITHDRAWAL:
            self._differ(Category.GATEWAY_ONLY, record, None, "paid out by the gateway; we have no withdrawal for it")
            return
        ours = _ours(withdrawal)
        if ours is None:
            detail = f"paid out by the gateway; our withdrawal is {withdrawal.status}"
            self._differ(Category.GATEWAY_ONLY, record, withdrawal, detail)
        else:
            self._pair(record, ours)

    # -------------------------------------------------------- from our records
    def _our_record(self, gateway: PaymentGateway, ours: _Ours) -> None:
        """Ours, not among the gateway's records of the window: ask the gateway by id before
        reporting it (the money may have moved there outside the window)."""
        known, moved = self._confirmed(gateway, ours)
        if ours.kind is RecordKind.PAYOUT and _credited_back(ours):
            if moved is not None:
                detail = "the gateway paid this payout; our withdrawal was credited back as if it had bounced"
                self._add(_difference(Category.GATEWAY_ONLY, ours.kind, ours, ours.gateway_id, *moved, detail))
            return  # bounced and credited back: nothing paid out on either side
        if moved is not None:
            self._compare(ours.kind, ours.gateway_id or "", *moved, ours)
            return
        detail = "completed on our side; the gateway has no such money"
        if not known:
            detail = "completed on our side; not in the gateway's listing, and the gateway could not be asked again"
        self._add(_difference(Category.OURS_ONLY, ours.kind, ours, ours.gateway_id, None, None, detail))

    def _confirmed(self, gateway: PaymentGateway, ours: _Ours) -> tuple[bool, tuple[int, str | None] | None]:
        """Whether the gateway answered, and the amount and currency it moved for this record of
        ours (None: it moved none). A lookup that fails or is past the limit is no answer, and
        makes the report incomplete."""
        if self.lookups >= CONFIRM_LIMIT:
            self._incomplete(f"more than {CONFIRM_LIMIT} records needed a lookup")
            return False, None
        self.lookups += 1
        try:
            return True, _ask(gateway, ours)
        except GatewayRejected:
            return True, None  # the gateway does not know the id
        except GatewayUnavailable as exc:
            self._incomplete(f"lookup failed: {exc}")
            return False, None

    def _incomplete(self, why: str) -> None:
        if self.report.complete:
            self.report.complete = False
            self.report.error = why


def _ask(gateway: PaymentGateway, ours: _Ours) -> tuple[int, str | None] | None:
    """The gateway's own answer for one record of ours, through the lookups every adapter has."""
    if ours.kind is RecordKind.DEPOSIT:
        info = gateway.fetch_payment(ours.order_id or "") if ours.order_id else None
        moved = info is not None and info.status is PaymentStatus.CAPTURED
        if info is None or not moved or info.payment_id not in (ours.gateway_id, ours.order_id):
            return None
        return info.amount_minor, info.currency
    if ours.kind is RecordKind.REFUND:
        payment_id = ours.payment_id
        if not payment_id and ours.parent_txn_id:
            deposit = transaction(ours.user_id, ours.parent_txn_id)
            payment_id = deposit.gateway_payment_id if deposit is not None else None
        refund = gateway.find_refund(payment_id, ours.reference) if payment_id else None
        return (refund.amount_minor, refund.currency) if refund is not None and refund.status == "PROCESSED" else None
    if ours.gateway_id:
        payout = gateway.payout_status(ours.gateway_id)
    else:
        payout = gateway.find_payout(ours.reference, ours.created_at)
    if payout is None or payout.status != "PROCESSED":
        return None
    return (payout.amount_minor if payout.amount_minor is not None else ours.amount), payout.currency


def _difference(
    category: Category,
    kind: RecordKind,
    ours: _Ours | TransactionItem | None,
    gateway_id: str | None,
    gateway_amount: int | None,
    gateway_currency: str | None,
    detail: str,
) -> Difference:
    return Difference(
        kind=kind,
        category=category,
        txn_id=ours.txn_id if ours else None,
        user_id=ours.user_id if ours else None,
        gateway_id=gateway_id,
        our_amount=int(ours.amount) if ours else None,
        gateway_amount=gateway_amount,
        our_currency=str(ours.currency).upper() if ours else None,
        gateway_currency=gateway_currency.upper() if gateway_currency else None,
        our_status=str(ours.status) if ours else None,
        detail=detail,
    )
