"""Reconciliation against the gateways (payments.flows.gateway_reconciliation): the Mock end to end
through the real flows, Razorpay and Stripe through their SDKs with only HTTP stubbed.

Every test runs on a day of its own (the clock is moved there), so the records other tests leave
in the shared tables never fall in its range."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from payments.flows.gateway_reconciliation import Category, Difference, reconcile_gateways
from payments.gateways import razorpay_gateway
from payments.gateways.base import GatewayName, RecordKind
from payments.gateways.mock_gateway import MockGateway
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from payments.store.ledger_table import WALLET_SK, PointerItem, WalletItem, order_key, user_pk
from payments.store.ops_table import MockGatewayItem
from tests.support.api import InProcessApi, Wallets
from tests.support.fixtures import Travel, unique_id
from tests.support.signing import GATEWAY_ENV, mock_webhook

RAZORPAY = "https://api.razorpay.com/v1"
STRIPE = "https://api.stripe.com/v1"
API = "/api/v1/payments"
MOCK, RZP, STR = GatewayName.MOCK, GatewayName.RAZORPAY, GatewayName.STRIPE
DEPOSIT, REFUND, PAYOUT = RecordKind.DEPOSIT, RecordKind.REFUND, RecordKind.PAYOUT
COMPLETED, PENDING, FAILED = TransactionStatus.COMPLETED, TransactionStatus.PENDING, TransactionStatus.FAILED
_DAYS = itertools.count()


@dataclass(frozen=True)
class Day:
    since: datetime
    until: datetime

    def at(self, hours: float = 12) -> datetime:
        return self.since + timedelta(hours=hours)


@pytest.fixture
def day(aws: Any, travel: Travel) -> Day:
    """A day nobody else uses (three apart, so no two grace windows meet); the clock reads its noon."""
    since = datetime(2035, 1, 1, tzinfo=UTC) + timedelta(days=3 * next(_DAYS))
    travel.to(since + timedelta(hours=12))
    return Day(since, since + timedelta(days=1))


@pytest.fixture
def sdk_gateways(monkeypatch: pytest.MonkeyPatch, http: responses.RequestsMock) -> responses.RequestsMock:
    """Razorpay (with a RazorpayX account) and Stripe configured in this process; every HTTP
    call is stubbed, and every stub must be called."""
    for name, value in {**GATEWAY_ENV, "RAZORPAYX_ACCOUNT_NUMBER": "2323230000000000"}.items():
        monkeypatch.setenv(name, value)
    return http


def _matched(deposits: int = 0, refunds: int = 0, payouts: int = 0) -> dict[str, int]:
    return {"DEPOSIT": deposits, "REFUND": refunds, "PAYOUT": payouts}


def _diff(kind: RecordKind, category: str, ours: Any, gateway_id: str | None, **values: Any) -> Difference:
    """A difference about our record ``ours`` (a :class:`Seeded` or None): its ids, amount,
    currency and status come from it unless given."""
    return Difference(
        kind=kind,
        category=Category(category),
        txn_id=values.get("txn_id", ours.txn_id if ours else None),
        user_id=values.get("user_id", ours.user_id if ours else None),
        gateway_id=gateway_id,
        our_amount=values.get("our_amount", ours.amount if ours else None),
        gateway_amount=values.get("gateway_amount"),
        our_currency=values.get("our_currency", "INR" if ours else None),
        gateway_currency=values.get("gateway_currency"),
        our_status=values.get("our_status", ours.status if ours else None),
        detail=values["detail"],
    )


# ---------------------------------------------------------------- our side, written through the ledger
@dataclass(frozen=True)
class Seeded:
    txn_id: str
    user_id: str
    amount: int
    status: str


class Ours:
    """Our records of one user, written through the ledger at a chosen moment (unique ids)."""

    def __init__(self, travel: Travel) -> None:
        self.travel = travel
        self.tag = uuid.uuid4().hex[:8]
        self.user_id = f"user_{self.tag}"

    def id(self, name: str) -> str:
        return f"{name}_{self.tag}"

    def deposit(
        self, at: datetime, gateway: GatewayName, n: int, amount: int = 100_000, credited: bool = True
    ) -> Seeded:
        """A deposit credited with its payment, or one still PENDING (its order opened, no payment seen)."""
        self.travel.to(at)
        txn, order = self.id(f"dep{n}"), self.id(f"order{n}")
        attributes: tuple[tuple[str, Any], ...] = (("gateway", gateway.value), ("gateway_order_id", order))
        if credited:
            attributes += (("gateway_payment_id", self.gateway_payment_id(gateway, n)),)
            change = NewTransaction(txn, TransactionType.DEPOSIT, COMPLETED, attributes=attributes, referable=True)
            Ledger().credit(self.user_id, amount, change)
        else:
            change = NewTransaction(txn, TransactionType.DEPOSIT, PENDING, attributes=attributes, referable=True)
            Ledger().open(self.user_id, amount, change)
        PointerItem(order_key(gateway.value, order), "ORDER", user_id=self.user_id, txn_id=txn).save()
        return Seeded(txn, self.user_id, amount, COMPLETED if credited else PENDING)

    def fund(self, at: datetime, amount: int) -> None:
        """Money in the wallet that no gateway moved (an adjustment): not a record of this report."""
        self.travel.to(at)
        change = NewTransaction(self.id("fund"), TransactionType.ADJUSTMENT, COMPLETED)
        Ledger().credit(self.user_id, amount, change)

    def gateway_payment_id(self, gateway: GatewayName, n: int) -> str:
        return self.id(f"ch{n}") if gateway is STR else self.id(f"pay{n}")

    def refund(self, at: datetime, gateway: GatewayName, n: int, deposit: Seeded, amount: int) -> Seeded:
        self.travel.to(at)
        txn = self.id(f"rf{n}")
        attributes = (
            ("gateway", gateway.value),
            ("parent_txn_id", deposit.txn_id),
            ("gateway_refund_id", self.id(f"rfnd{n}")),
            ("wallet_debited", True),
        )
        change = NewTransaction(txn, TransactionType.REFUND, COMPLETED, attributes=attributes, referable=True)
        Ledger().debit(self.user_id, amount, change)
        return Seeded(txn, self.user_id, amount, COMPLETED)

    def withdrawal(
        self, at: datetime, gateway: GatewayName, n: int, amount: int = 20_000, status: str = COMPLETED
    ) -> Seeded:
        """A settled withdrawal (its payout id recorded), or one that ended without money moving."""
        self.travel.to(at)
        txn = self.id(f"wd{n}")
        attributes: tuple[tuple[str, Any], ...] = (("gateway", gateway.value),)
        if status == COMPLETED:
            attributes += (("gateway_payout_id", self.id(f"pout{n}")),)
            Ledger().debit(
                self.user_id,
                amount,
                NewTransaction(txn, TransactionType.WITHDRAWAL, COMPLETED, attributes=attributes, referable=True),
            )
        else:
            change = NewTransaction(
                txn, TransactionType.WITHDRAWAL, TransactionStatus(status), attributes=attributes, referable=True
            )
            Ledger().open(self.user_id, amount, change)
        return Seeded(txn, self.user_id, amount, status)


@pytest.fixture
def ours(aws: Any, travel: Travel) -> Ours:
    return Ours(travel)


# ---------------------------------------------------------------- the gateways' side, stubbed HTTP
def _query(**expected: str | None) -> Callable[[Any], tuple[bool, str]]:
    """A `responses` matcher on some query parameters (None: the parameter is absent)."""

    def match(request: Any) -> tuple[bool, str]:
        query = parse_qs(urlsplit(request.url).query)
        for name, value in expected.items():
            if query.get(name, [None])[0] != value:
                return False, f"{name}={query.get(name)} is not {value}"
        return True, ""

    return match


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _razorpay_list(http: responses.RequestsMock, path: str, pages: list[list[dict[str, Any]]]) -> None:
    """A Razorpay collection served in pages of razorpay_gateway.PAGE_SIZE (skip = what came before)."""
    skip = 0
    for items in pages:
        body = {"entity": "collection", "count": len(items), "items": items}
        http.get(f"{RAZORPAY}{path}", json=body, match=[_query(skip=str(skip), count="2")])
        skip += len(items)


def _rzp_payment(ours: Ours, n: int, at: datetime, amount: int = 100_000, status: str = "captured") -> dict[str, Any]:
    return {
        "id": ours.id(f"pay{n}"),
        "entity": "payment",
        "order_id": ours.id(f"order{n}"),
        "amount": amount,
        "currency": "INR",
        "status": status,
        "captured": status in ("captured", "refunded"),
        "created_at": _epoch(at),
    }


def _rzp_refund(ours: Ours, n: int, at: datetime, amount: int, currency: str = "INR") -> dict[str, Any]:
    return {
        "id": ours.id(f"rfnd{n}"),
        "entity": "refund",
        "payment_id": ours.id(f"pay{n}"),
        "amount": amount,
        "currency": currency,
        "receipt": ours.id(f"rf{n}"),
        "notes": [],
        "status": "processed",
        "created_at": _epoch(at),
    }


def _rzp_payout(ours: Ours, n: int, at: datetime, amount: int = 20_000, status: str = "processed") -> dict[str, Any]:
    return {
        "id": ours.id(f"pout{n}"),
        "entity": "payout",
        "amount": amount,
        "currency": "INR",
        "reference_id": ours.id(f"wd{n}"),
        "status": status,
        "created_at": _epoch(at),
    }


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Razorpay pages of 2, so a few records make several pages."""
    monkeypatch.setattr(razorpay_gateway, "PAGE_SIZE", 2)


def _stripe_pages(http: responses.RequestsMock, pages: list[list[dict[str, Any]]]) -> None:
    """Balance transactions in pages chained by ``starting_after`` (the last id of the page before)."""
    after = None
    for index, data in enumerate(pages):
        body = {"object": "list", "url": "/v1/balance_transactions", "has_more": index < len(pages) - 1, "data": data}
        http.get(f"{STRIPE}/balance_transactions", json=body, match=[_query(starting_after=after, limit="100")])
        after = data[-1]["id"] if data else None


def _bt(kind: str, at: datetime, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": unique_id("txn"),
        "object": "balance_transaction",
        "type": kind,
        "created": _epoch(at),
        "amount": source.get("amount", 0),
        "currency": "inr",
        "source": source,
    }


def _charge(ours: Ours, n: int, amount: int = 100_000) -> dict[str, Any]:
    return {
        "id": ours.id(f"ch{n}"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "currency": "inr",
        "payment_intent": ours.id(f"order{n}"),
        "status": "succeeded",
        "metadata": {},
    }


def _stripe_refund(ours: Ours, n: int, amount: int, status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": ours.id(f"rfnd{n}"),
        "object": "refund",
        "amount": amount,
        "currency": "inr",
        "payment_intent": ours.id(f"order{n}"),
        "status": status,
        "metadata": {"reference": ours.id(f"rf{n}")},
    }


def _stripe_payout(ours: Ours, n: int, amount: int = 20_000, status: str = "paid") -> dict[str, Any]:
    return {
        "id": ours.id(f"pout{n}"),
        "object": "payout",
        "amount": amount,
        "currency": "inr",
        "status": status,
        "metadata": {"reference": ours.id(f"wd{n}")},
    }


# ---------------------------------------------------------------- Razorpay and Stripe through their SDKs
@pytest.mark.usefixtures("small_pages")
def test_razorpay_and_stripe_match_over_several_pages(
    sdk_gateways: responses.RequestsMock, ours: Ours, day: Day
) -> None:
    noon = day.at()
    rzp = [ours.deposit(noon, RZP, 1), ours.deposit(noon, RZP, 2)]
    ours.refund(noon, RZP, 1, rzp[0], 30_000)
    ours.withdrawal(noon, RZP, 1)
    stripe = ours.deposit(noon, STR, 11)
    ours.refund(noon, STR, 11, stripe, 40_000)
    ours.withdrawal(noon, STR, 11)
    failed_attempt = _rzp_payment(ours, 9, noon, status="failed")
    _razorpay_list(
        sdk_gateways, "/payments", [[_rzp_payment(ours, 1, noon), failed_attempt], [_rzp_payment(ours, 2, noon)]]
    )
    _razorpay_list(sdk_gateways, "/refunds", [[_rzp_refund(ours, 1, noon, 30_000)]])
    reversed_payout = _rzp_payout(ours, 8, noon, status="reversed")  # paid, then came back: no money left
    _razorpay_list(sdk_gateways, "/payouts", [[_rzp_payout(ours, 1, noon), reversed_payout], []])
    fee = {"id": "fee_1", "object": "application_fee", "amount": 300, "currency": "inr"}
    _stripe_pages(
        sdk_gateways,
        [
            [_bt("charge", noon, _charge(ours, 11)), _bt("application_fee", noon, fee)],
            [_bt("refund", noon, _stripe_refund(ours, 11, 40_000)), _bt("payout", noon, _stripe_payout(ours, 11))],
        ],
    )

    report = reconcile_gateways(day.since, day.until, [RZP, STR])

    for name in ("razorpay", "stripe"):
        assert (report.gateways[name].complete, report.gateways[name].differences) == (True, [])
    assert report.gateways["razorpay"].matched == _matched(2, 1, 1)
    assert report.gateways["stripe"].matched == _matched(1, 1, 1)
    assert (report.complete, report.matched, sum(report.totals.values())) == (True, _matched(3, 2, 2), 0)
    window = (str(_epoch(day.since - timedelta(minutes=15))), str(_epoch(day.until + timedelta(minutes=15))))
    razorpay_calls = [
        parse_qs(urlsplit(c.request.url).query) for c in sdk_gateways.calls if "razorpay" in c.request.url
    ]
    assert {(q["from"][0], q["to"][0]) for q in razorpay_calls} == {window}
    assert all(q["account_number"] == ["2323230000000000"] for q in razorpay_calls if "account_number" in q)
    stripe_query = parse_qs(
        urlsplit(next(c for c in sdk_gateways.calls if "stripe" in c.request.url).request.url).query
    )
    assert (stripe_query["created[gte]"], stripe_query["created[lt]"]) == ([window[0]], [window[1]])
    assert stripe_query["expand[0]"] == ["data.source"]


@pytest.mark.usefixtures("small_pages")
def test_razorpay_differences(sdk_gateways: responses.RequestsMock, ours: Ours, day: Day) -> None:
    noon = day.at()
    never_credited = ours.deposit(noon, RZP, 3, credited=False)
    not_at_gateway = ours.deposit(noon, RZP, 4)
    short = ours.deposit(noon, RZP, 5)
    refunded = ours.deposit(noon, RZP, 6)
    refund = ours.refund(noon, RZP, 6, refunded, 30_000)
    released = ours.withdrawal(noon, RZP, 7, status=FAILED)
    payments = [_rzp_payment(ours, 3, noon), _rzp_payment(ours, 5, noon, amount=99_000)]
    _razorpay_list(sdk_gateways, "/payments", [payments, [_rzp_payment(ours, 6, noon)]])
    _razorpay_list(sdk_gateways, "/refunds", [[_rzp_refund(ours, 6, noon, 30_000, currency="USD")]])
    _razorpay_list(sdk_gateways, "/payouts", [[_rzp_payout(ours, 7, noon)]])
    # Before reporting our deposit 4, Razorpay is asked about its order: nothing was paid.
    empty = {"entity": "collection", "count": 0, "items": []}
    sdk_gateways.get(f"{RAZORPAY}/orders/{ours.id('order4')}/payments", json=empty)

    report = reconcile_gateways(day.since, day.until, [RZP]).gateways["razorpay"]

    assert report.complete
    assert report.matched == _matched(deposits=1)
    assert report.differences == [
        _diff(
            DEPOSIT,
            "amount_differs",
            short,
            ours.id("pay5"),
            gateway_amount=99_000,
            gateway_currency="INR",
            detail="the gateway has 99000, we have 100000 (minor units)",
        ),
        _diff(
            DEPOSIT,
            "gateway_only",
            never_credited,
            ours.id("pay3"),
            gateway_amount=100_000,
            gateway_currency="INR",
            detail="captured at the gateway; our deposit is PENDING",
        ),
        _diff(
            DEPOSIT,
            "ours_only",
            not_at_gateway,
            ours.id("pay4"),
            detail="completed on our side; the gateway has no such money",
        ),
        _diff(
            REFUND,
            "currency_differs",
            refund,
            ours.id("rfnd6"),
            gateway_amount=30_000,
            gateway_currency="USD",
            detail="the gateway has USD, we have INR",
        ),
        _diff(
            PAYOUT,
            "gateway_only",
            released,
            ours.id("pout7"),
            gateway_amount=20_000,
            gateway_currency="INR",
            detail="paid out by the gateway; our withdrawal is FAILED",
        ),
    ]


def test_stripe_differences(sdk_gateways: responses.RequestsMock, ours: Ours, day: Day) -> None:
    noon = day.at()
    never_credited = ours.deposit(noon, STR, 3, credited=False)
    not_at_gateway = ours.deposit(noon, STR, 4)
    refunded = ours.deposit(noon, STR, 5)
    refund = ours.refund(noon, STR, 5, refunded, 20_000)
    cancelled = ours.withdrawal(noon, STR, 7, status="CANCELLED")
    _stripe_pages(
        sdk_gateways,
        [
            [_bt("charge", noon, _charge(ours, 3)), _bt("charge", noon, _charge(ours, 5))],
            [
                _bt("refund", noon, _stripe_refund(ours, 5, 15_000)),
                _bt("refund", noon, _stripe_refund(ours, 8, 5_000, status="failed")),  # money came back
                _bt("payout", noon, _stripe_payout(ours, 7)),
            ],
        ],
    )
    missing = {
        "error": {"type": "invalid_request_error", "message": "No such payment_intent", "code": "resource_missing"}
    }
    sdk_gateways.get(f"{STRIPE}/payment_intents/{ours.id('order4')}", status=404, json=missing)

    report = reconcile_gateways(day.since, day.until, [STR]).gateways["stripe"]

    assert report.complete
    assert report.matched == _matched(deposits=1)
    assert report.differences == [
        _diff(
            DEPOSIT,
            "gateway_only",
            never_credited,
            ours.id("ch3"),
            gateway_amount=100_000,
            gateway_currency="INR",
            detail="captured at the gateway; our deposit is PENDING",
        ),
        _diff(
            DEPOSIT,
            "ours_only",
            not_at_gateway,
            ours.id("ch4"),
            detail="completed on our side; the gateway has no such money",
        ),
        _diff(
            REFUND,
            "amount_differs",
            refund,
            ours.id("rfnd5"),
            gateway_amount=15_000,
            gateway_currency="INR",
            detail="the gateway has 15000, we have 20000 (minor units)",
        ),
        _diff(
            PAYOUT,
            "gateway_only",
            cancelled,
            ours.id("pout7"),
            gateway_amount=20_000,
            gateway_currency="INR",
            detail="paid out by the gateway; our withdrawal is CANCELLED",
        ),
    ]


@pytest.mark.usefixtures("small_pages")
def test_an_unavailable_gateway_is_incomplete_and_the_others_are_not(
    sdk_gateways: responses.RequestsMock, ours: Ours, day: Day
) -> None:
    noon = day.at()
    ours.deposit(noon, RZP, 1)
    ours.deposit(noon, STR, 2)
    _razorpay_list(sdk_gateways, "/payments", [[_rzp_payment(ours, 1, noon), _rzp_payment(ours, 9, noon)]])
    sdk_gateways.get(
        f"{RAZORPAY}/payments", status=503, json={"error": {"code": "SERVER_ERROR"}}, match=[_query(skip="2")]
    )
    _stripe_pages(sdk_gateways, [[_bt("charge", noon, _charge(ours, 2))]])

    report = reconcile_gateways(day.since, day.until, [RZP, STR])

    razorpay = report.gateways["razorpay"]
    assert (razorpay.complete, razorpay.differences, razorpay.matched) == (False, [], _matched())
    assert str(razorpay.error).startswith("listing failed: razorpay: HTTP 503")
    stripe = report.gateways["stripe"]
    assert (stripe.complete, stripe.differences, stripe.matched, stripe.error) == (True, [], _matched(1), None)
    assert report.complete is False


def test_stripe_timeout_is_incomplete(sdk_gateways: responses.RequestsMock, ours: Ours, day: Day) -> None:
    import requests

    ours.deposit(day.at(), STR, 1)
    sdk_gateways.get(f"{STRIPE}/balance_transactions", body=requests.exceptions.ReadTimeout("read timed out"))

    report = reconcile_gateways(day.since, day.until, [STR]).gateways["stripe"]

    assert (report.complete, report.differences, report.matched) == (False, [], _matched())
    assert "timed out" in str(report.error)


def test_a_lookup_that_fails_keeps_its_difference_and_the_report_is_incomplete(
    sdk_gateways: responses.RequestsMock, ours: Ours, day: Day
) -> None:
    unlisted = ours.deposit(day.at(), STR, 1)
    _stripe_pages(sdk_gateways, [[]])
    error = {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end"}}
    sdk_gateways.get(f"{STRIPE}/payment_intents/{ours.id('order1')}", status=500, json=error)

    report = reconcile_gateways(day.since, day.until, [STR]).gateways["stripe"]

    assert (report.complete, report.matched) == (False, _matched())
    assert str(report.error).startswith("lookup failed: stripe:")
    assert report.differences == [
        _diff(
            DEPOSIT,
            "ours_only",
            unlisted,
            ours.id("ch1"),
            detail="completed on our side; not in the gateway's listing, and the gateway could not be asked again",
        )
    ]


@pytest.mark.usefixtures("small_pages")
def test_records_across_the_edges_match_within_the_grace_window(
    sdk_gateways: responses.RequestsMock, ours: Ours, day: Day
) -> None:
    """Credited 23:59:59, captured 00:00:01: one match. Records in the grace margins without a
    partner belong to the next or the previous day: not reported here."""
    ours.deposit(day.until - timedelta(seconds=1), RZP, 1)
    ours.deposit(day.since + timedelta(seconds=1), RZP, 2)
    ours.deposit(day.since - timedelta(minutes=5), RZP, 3)  # yesterday's, gateway record not listed
    payments = [
        _rzp_payment(ours, 1, day.until + timedelta(seconds=1)),
        _rzp_payment(ours, 2, day.since - timedelta(seconds=1)),
    ]
    tomorrows = _rzp_payment(ours, 4, day.until + timedelta(minutes=5))  # we will credit it tomorrow
    outside = _rzp_payment(ours, 5, day.until + timedelta(minutes=20))  # past the window: dropped
    _razorpay_list(sdk_gateways, "/payments", [payments, [tomorrows, outside], []])
    _razorpay_list(sdk_gateways, "/refunds", [[]])
    _razorpay_list(sdk_gateways, "/payouts", [[]])

    report = reconcile_gateways(day.since, day.until, [RZP]).gateways["razorpay"]

    assert (report.complete, report.differences, report.matched) == (True, [], _matched(deposits=2))


def test_money_that_moved_far_apart_in_time_is_looked_up_and_matches(
    sdk_gateways: responses.RequestsMock, ours: Ours, day: Day
) -> None:
    """A Stripe payout created two days before our withdrawal completed (paid on arrival), and a
    charge captured today for a deposit we credited two days later: each side's record is looked
    up by id at the other before anything is reported."""
    ours.fund(day.at(), 20_000)
    ours.withdrawal(day.at(), STR, 1)
    ours.deposit(day.until + timedelta(days=2), STR, 2)
    _stripe_pages(sdk_gateways, [[_bt("charge", day.at(), _charge(ours, 2))]])
    payout = {**_stripe_payout(ours, 1), "arrival_date": _epoch(day.at())}
    sdk_gateways.get(f"{STRIPE}/payouts/{ours.id('pout1')}", json=payout)

    report = reconcile_gateways(day.since, day.until, [STR]).gateways["stripe"]

    assert (report.complete, report.differences, report.matched) == (True, [], _matched(deposits=1, payouts=1))


# ---------------------------------------------------------------- the Mock, end to end through the real flows
def _deposit(wallets: Wallets, user_id: str, amount: str, token: str = "tok_mock_success") -> dict[str, Any]:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token=token), amount)
    assert started.status == 200, started.body
    paid = wallets.pay(started.body["order_id"])
    return {**started.body, "payment_id": paid["payment_id"]}


def _refund(api: InProcessApi, user_id: str, deposit_id: str, amount: str) -> dict[str, Any]:
    reply = api.post(
        "RefundCreateFunction", f"{API}/refunds", user_id, {"transaction_id": deposit_id, "amount": amount}
    )
    assert (reply.status, reply.body["status"]) == (200, "COMPLETED"), reply.body
    return reply.body


def _withdraw(api: InProcessApi, wallets: Wallets, user_id: str, token: str, amount: str) -> dict[str, Any]:
    method_id = wallets.add_method(user_id, token=token, kind="BANK_TRANSFER")
    body = {"amount": amount, "payment_method_id": method_id}
    reply = api.post("WithdrawalInitiateFunction", f"{API}/withdrawals/initiate", user_id, body)
    assert reply.status == 202, reply.body
    withdrawal_id = reply.body["withdrawal_id"]
    path = f"{API}/withdrawals/{withdrawal_id}/status"
    deadline = time.monotonic() + 30
    while True:
        status = api.get("WithdrawalStatusFunction", path, user_id, path_params={"withdrawal_id": withdrawal_id}).body
        if status["status"] in ("COMPLETED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _mock_record(object_id: str) -> MockGatewayItem:
    return MockGatewayItem.get(f"MOCK#{object_id}", consistent_read=True)


def test_mock_everything_matches_after_deposits_a_refund_and_a_withdrawal(
    api: InProcessApi, wallets: Wallets, user_id: str, day: Day
) -> None:
    first = _deposit(wallets, user_id, "1000.00")
    _deposit(wallets, user_id, "500.00")
    _refund(api, user_id, first["transaction_id"], "300.00")
    assert _withdraw(api, wallets, user_id, "tok_mock_success", "200.00")["status"] == "COMPLETED"

    report = reconcile_gateways(day.since, day.until, [MOCK])

    mock = report.gateways["mock"]
    assert (mock.complete, mock.differences, mock.matched) == (True, [], _matched(2, 1, 1))
    assert report.to_dict()["totals"] == {
        "ours_only": 0,
        "gateway_only": 0,
        "amount_differs": 0,
        "currency_differs": 0,
    }


def test_mock_a_payout_paid_while_our_withdrawal_was_released(
    api: InProcessApi, wallets: Wallets, user_id: str, day: Day
) -> None:
    """And a payout that bounced after it was paid, credited back to the wallet: nothing was paid
    out on either side in the end, so it is neither a difference nor a match."""
    _deposit(wallets, user_id, "1000.00")
    released = _withdraw(api, wallets, user_id, "tok_mock_payout_fail", "200.00")
    assert released["status"] == "FAILED"
    # The gateway reports it paid after all (it failed it first): the money left, our wallet kept it.
    _mock_record(released["gateway_payout_id"]).update(actions=[MockGatewayItem.status.set("PROCESSED")])
    bounced = _withdraw(api, wallets, user_id, "tok_mock_success", "100.00")
    MockGateway("mock_key", "", "", "").reverse_payout(bounced["gateway_payout_id"])
    entity = {
        "id": bounced["gateway_payout_id"],
        "amount": 10_000,
        "currency": "INR",
        "reference_id": bounced["withdrawal_id"],
    }
    body, headers = mock_webhook("payout.reversed", "payout", entity, f"evt_{bounced['withdrawal_id']}")
    reply = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert reply.body["outcome"] == "reversal_credited"

    mock = reconcile_gateways(day.since, day.until, [MOCK]).gateways["mock"]

    assert (mock.complete, mock.matched) == (True, _matched(deposits=1))
    assert mock.differences == [
        Difference(
            kind=PAYOUT,
            category=Category.GATEWAY_ONLY,
            txn_id=released["withdrawal_id"],
            user_id=user_id,
            gateway_id=released["gateway_payout_id"],
            our_amount=20_000,
            gateway_amount=20_000,
            our_currency="INR",
            gateway_currency="INR",
            our_status="FAILED",
            detail="paid out by the gateway; our withdrawal is FAILED",
        )
    ]


def test_mock_a_capture_never_credited_and_a_deposit_the_gateway_lacks(
    wallets: Wallets, user_id: str, day: Day
) -> None:
    uncredited = _deposit(wallets, user_id, "100.00", token="tok_mock_no_webhook")  # nobody confirms it
    lost = _deposit(wallets, user_id, "250.00")
    for object_id in (lost["payment_id"], lost["order_id"]):  # the gateway has no record of it
        _mock_record(object_id).delete()

    mock = reconcile_gateways(day.since, day.until, [MOCK]).gateways["mock"]

    assert (mock.complete, mock.matched) == (True, _matched())
    common = {"user_id": user_id, "our_currency": "INR"}
    assert mock.differences == [
        Difference(
            kind=DEPOSIT,
            category=Category.GATEWAY_ONLY,
            txn_id=uncredited["transaction_id"],
            gateway_id=uncredited["payment_id"],
            our_amount=10_000,
            gateway_amount=10_000,
            gateway_currency="INR",
            our_status="PENDING",
            detail="captured at the gateway; our deposit is PENDING",
            **common,
        ),
        Difference(
            kind=DEPOSIT,
            category=Category.OURS_ONLY,
            txn_id=lost["transaction_id"],
            gateway_id=lost["payment_id"],
            our_amount=25_000,
            gateway_amount=None,
            gateway_currency=None,
            our_status="COMPLETED",
            detail="completed on our side; the gateway has no such money",
            **common,
        ),
    ]


def test_mock_an_amount_and_a_currency_that_differ(api: InProcessApi, wallets: Wallets, user_id: str, day: Day) -> None:
    short = _deposit(wallets, user_id, "1000.00")
    refunded = _deposit(wallets, user_id, "400.00")
    refund = _refund(api, user_id, refunded["transaction_id"], "100.00")
    _mock_record(short["payment_id"]).update(actions=[MockGatewayItem.amount.set(99_950)])
    _mock_record(refund["gateway_refund_id"]).update(actions=[MockGatewayItem.currency.set("USD")])

    mock = reconcile_gateways(day.since, day.until, [MOCK]).gateways["mock"]

    assert (mock.complete, mock.matched) == (True, _matched(deposits=1))
    common = {"user_id": user_id, "our_currency": "INR", "our_status": "COMPLETED"}
    assert mock.differences == [
        Difference(
            kind=DEPOSIT,
            category=Category.AMOUNT_DIFFERS,
            txn_id=short["transaction_id"],
            gateway_id=short["payment_id"],
            our_amount=100_000,
            gateway_amount=99_950,
            gateway_currency="INR",
            detail="the gateway has 99950, we have 100000 (minor units)",
            **common,
        ),
        Difference(
            kind=REFUND,
            category=Category.CURRENCY_DIFFERS,
            txn_id=refund["refund_id"],
            gateway_id=refund["gateway_refund_id"],
            our_amount=10_000,
            gateway_amount=10_000,
            gateway_currency="USD",
            detail="the gateway has USD, we have INR",
            **common,
        ),
    ]


def test_mock_a_wallet_edited_in_the_table_is_not_this_reports_business(
    wallets: Wallets, user_id: str, day: Day
) -> None:
    """The internal reconciliation compares wallets with their entries; this one compares money
    records with the gateway's, and a balance edited by hand changes no money record."""
    _deposit(wallets, user_id, "100.00")
    wallet = WalletItem(user_pk(user_id), WALLET_SK)
    wallet.update(actions=[WalletItem.balance.add(50_000), WalletItem.available.add(50_000)])
    try:
        mock = reconcile_gateways(day.since, day.until, [MOCK]).gateways["mock"]
    finally:
        wallet.update(actions=[WalletItem.balance.add(-50_000), WalletItem.available.add(-50_000)])

    assert (mock.complete, mock.differences, mock.matched) == (True, [], _matched(deposits=1))


def test_the_scheduled_function_reports_and_keeps_its_report(
    wallets: Wallets, user_id: str, day: Day, aws: Any
) -> None:
    """The job as deployed (its own role, the Mock's store read as the Mock's API): the capture
    nobody credited is in its answer, in the ops table and in its metrics; nothing is edited."""
    import json

    from local.schedules import scheduled_event
    from payments.store.ops_table import ReconciliationItem

    uncredited = _deposit(wallets, user_id, "100.00", token="tok_mock_no_webhook")
    detail = {"since": f"{day.since:%Y-%m-%d}", "until": f"{day.until:%Y-%m-%d}"}
    event = scheduled_event("GatewayReconciliationFunction", "us-east-1", detail)
    report = aws.runtime.invoke("GatewayReconciliationFunction", event)
    found = [
        (difference["category"], difference["txn_id"], difference["our_status"])
        for difference in report["gateways"]["mock"]["differences"]
    ]
    assert found == [("gateway_only", uncredited["transaction_id"], "PENDING")]
    assert (report["complete"], report["totals"]["gateway_only"]) == (True, 1)
    stored = json.loads(ReconciliationItem.get(report["report_key"]).body)
    assert stored["gateways"]["mock"]["differences"][0]["txn_id"] == uncredited["transaction_id"]
    assert wallets.transaction(user_id, uncredited["transaction_id"])["status"] == "PENDING"


def test_the_scheduled_function_asks_razorpay_and_stripe_with_the_stack_secret(
    gateways: responses.RequestsMock, day: Day, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As deployed with real gateways: the credentials come from the stack's gateway secret under
    the function's own role, every listing is asked, and an empty day matches."""
    import re

    from local.schedules import scheduled_event

    monkeypatch.setenv("RAZORPAYX_ACCOUNT_NUMBER", "2323230000000000")
    empty = {"entity": "collection", "count": 0, "items": []}
    for path in ("payments", "refunds", "payouts"):
        gateways.get(re.compile(rf"{re.escape(RAZORPAY)}/{path}(\?.*)?$"), json=empty)
    listing = {"object": "list", "url": "/v1/balance_transactions", "has_more": False, "data": []}
    gateways.get(re.compile(rf"{re.escape(STRIPE)}/balance_transactions(\?.*)?$"), json=listing)
    detail = {"since": f"{day.since:%Y-%m-%d}", "until": f"{day.until:%Y-%m-%d}"}
    report = aws.runtime.invoke(
        "GatewayReconciliationFunction", scheduled_event("GatewayReconciliationFunction", "us-east-1", detail)
    )
    assert sorted(report["gateways"]) == ["razorpay", "stripe"]
    assert (report["complete"], sum(report["totals"].values())) == (True, 0)
    asked = {call.request.url.split("?")[0] for call in gateways.calls}
    assert asked == {
        f"{RAZORPAY}/payments",
        f"{RAZORPAY}/refunds",
        f"{RAZORPAY}/payouts",
        f"{STRIPE}/balance_transactions",
    }
