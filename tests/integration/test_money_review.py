"""The defects a second adversarial review of the money paths found after the three-outcome work,
one test each (written before the fixes): answers that looked definite but were not, a recovery
job that could starve, late money confirmed by the client, and crashes between two writers.

Same rules as test_money_defects.py: real SDKs with HTTP stubbed, the ledger invariants checked
after each test.
"""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses

from payments.core.clock import Deadline
from payments.flows import withdrawal_saga, withdrawals
from tests.integration.test_money_defects import (
    RAZORPAY,
    STRIPE,
    _balance,
    _payout_withdrawal,
    _razorpay_initiate,
    _razorpay_paid,
    _refund,
    _stripe_deposit,
    _txn,
    _webhook,
    no_fraud_screen,  # noqa: F401 - fixture
)
from tests.support.api import InProcessApi, Wallets
from tests.support.fixtures import Travel, run_job
from tests.support.signing import razorpay_payment_signature, razorpay_webhook, stripe_webhook


def _razorpay_refund(user_id: str, payment_id: str, refund_id: str, status: str = "processed") -> dict[str, Any]:
    return {
        "id": f"rfnd_{user_id}",
        "entity": "refund",
        "payment_id": payment_id,
        "amount": 100_050,
        "currency": "INR",
        "receipt": refund_id,
        "notes": {"reference": refund_id},
        "status": status,
    }


def _razorpay_deposit(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> tuple[str, str]:
    order_id, payment_id = f"order_{user_id}", f"pay_{user_id}"
    deposit_id = _razorpay_initiate(gateways, wallets, user_id, order_id)
    assert _razorpay_paid(api, payment_id, order_id, f"evt_paid_{user_id}") == "credited"
    return deposit_id, payment_id


# ---------------------------------------------------------- 1. a refusal that is not a definite no
@pytest.mark.parametrize(
    ("status", "code"),
    [(502, "GATEWAY_ERROR"), (500, "SERVER_ERROR"), (429, "BAD_REQUEST_ERROR"), (503, "BAD_REQUEST_ERROR")],
)
def test_1_a_razorpay_5xx_or_429_on_a_refund_is_unknown_not_a_refusal(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, status: int, code: str
) -> None:
    """The SDK raises by the body's error code whatever the HTTP status: a 502 GATEWAY_ERROR or a
    429 BAD_REQUEST_ERROR was a definite no, the refund was reversed, and the later
    refund.processed found it reversed: the card and the wallet both had the money."""
    deposit_id, payment_id = _razorpay_deposit(gateways, wallets, api, user_id)
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/payments/{payment_id}/refund",
        status=status,
        json={"error": {"code": code, "description": "upstream trouble"}},
    )
    reply = _refund(api, user_id, deposit_id)
    refund_id = reply.body["refund_id"]
    assert _txn(user_id, refund_id).status == "PROCESSING"
    body, headers = razorpay_webhook(
        "refund.processed", "refund", _razorpay_refund(user_id, payment_id, refund_id), f"evt_r_{user_id}"
    )
    assert _webhook(api, "razorpay", body, headers).body["outcome"] == "refund_completed"
    assert (_txn(user_id, refund_id).status, _balance(api, user_id)["balance"]) == ("COMPLETED", "0.00")


def test_1_b_a_refund_refused_when_sent_again_is_looked_up_by_our_reference_first(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, travel: Travel, aws: Any
) -> None:
    """The first send timed out after Razorpay refunded; the recovery job's re-send is refused
    (the payment is fully refunded now). That "no" is about the re-send, not about our refund."""
    deposit_id, payment_id = _razorpay_deposit(gateways, wallets, api, user_id)
    gateways.add(
        responses.POST, f"{RAZORPAY}/payments/{payment_id}/refund", body=requests.exceptions.ReadTimeout("slow")
    )
    refund_id = _refund(api, user_id, deposit_id).body["refund_id"]
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/payments/{payment_id}/refund",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "The payment has been fully refunded already"}},
    )
    listed = {"entity": "collection", "count": 1, "items": [_razorpay_refund(user_id, payment_id, refund_id)]}
    gateways.add(responses.GET, f"{RAZORPAY}/payments/{payment_id}/refunds", json=listed)
    from payments.flows import refunds

    assert refunds.send(_txn(user_id, refund_id), Deadline()) == "refund_completed"
    assert (_txn(user_id, refund_id).status, _balance(api, user_id)["balance"]) == ("COMPLETED", "0.00")


def test_1_c_a_refusal_of_a_retried_payout_does_not_release_what_the_first_attempt_paid(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RequestPayout attempt 1 times out after RazorpayX created the payout; attempt 2 (same key)
    is refused. Releasing on that refusal paid the user twice."""
    event = _payout_withdrawal(user_id, wallets, monkeypatch)
    withdrawal_id = event["withdrawal"]["id"]
    gateways.add(responses.POST, f"{RAZORPAY}/payouts", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(withdrawal_saga.TransientGatewayError):
        withdrawal_saga.request_payout(event)
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/payouts",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "Insufficient balance in the account"}},
    )
    payout = {
        "id": "pout_r1",
        "entity": "payout",
        "amount": 20_000,
        "currency": "INR",
        "status": "processing",
        "reference_id": withdrawal_id,
    }
    gateways.add(responses.GET, f"{RAZORPAY}/payouts", json={"entity": "collection", "count": 1, "items": [payout]})

    answer = withdrawal_saga.request_payout({**event, "task_token": "token-2"})

    assert answer == {"payout_id": "pout_r1", "status": "PROCESSING"}
    assert _txn(user_id, withdrawal_id).gateway_payout_id == "pout_r1"
    withdrawal_saga.settle(event)  # payout.processed, as the saga would be resumed


def test_1_d_a_payout_refused_with_no_payout_at_the_gateway_is_released(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _payout_withdrawal(user_id, wallets, monkeypatch)
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/payouts",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "Invalid fund account"}},
    )
    gateways.add(responses.GET, f"{RAZORPAY}/payouts", json={"entity": "collection", "count": 0, "items": []})
    with pytest.raises(withdrawal_saga.PayoutRejectedError):
        withdrawal_saga.request_payout(event)
    withdrawal_saga.release({**event, "error": {"Error": "PayoutRejectedError"}})
    assert _txn(user_id, event["withdrawal"]["id"]).status == "FAILED"


def test_1_e_a_refund_processed_after_we_reversed_it_takes_the_money_back_from_the_wallet(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    """Belt and braces: if a refund was reversed and the gateway later says it was made after
    all, the wallet cannot keep it too."""
    deposit_id, payment_id = _razorpay_deposit(gateways, wallets, api, user_id)
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/payments/{payment_id}/refund",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "refund refused"}},
    )
    gateways.add(
        responses.GET,
        f"{RAZORPAY}/payments/{payment_id}/refunds",
        json={"entity": "collection", "count": 0, "items": []},
    )
    refused = _refund(api, user_id, deposit_id)
    assert (refused.status, refused.body["error"]["code"]) == (422, "GATEWAY_REFUSED")
    refund_id = refused.body["error"]["details"]["refund_id"]
    assert (_txn(user_id, refund_id).status, _balance(api, user_id)["balance"]) == ("FAILED", "1000.50")
    made = {"entity": "collection", "count": 1, "items": [_razorpay_refund(user_id, payment_id, refund_id)]}
    gateways.add(responses.GET, f"{RAZORPAY}/payments/{payment_id}/refunds", json=made)
    body, headers = razorpay_webhook(
        "refund.processed", "refund", _razorpay_refund(user_id, payment_id, refund_id), f"evt_late_{user_id}"
    )

    assert _webhook(api, "razorpay", body, headers).body["outcome"] == "refund_reinstated"
    assert _balance(api, user_id)["balance"] == "0.00"
    # Delivered again: once only.
    assert _webhook(api, "razorpay", body, headers).body["outcome"] in ("duplicate", "already_applied")
    assert _balance(api, user_id)["balance"] == "0.00"
    # The client's retry of that refund (its stored answer gone: the first holder died, or the key
    # expired) must not hear "refused, the amount is back in the wallet" about money that left.
    from payments.core.caller import Caller, KycLevel
    from payments.flows import refunds

    again = refunds.request_refund(
        Caller(user_id, KycLevel.BASIC, frozenset({"user"})), deposit_id, None, None, refund_id
    )
    assert (again.refund_id, again.status, again.amount) == (refund_id, "COMPLETED", 100050)


def test_1_f_a_processed_event_older_than_the_failure_that_reversed_the_refund_changes_nothing(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    """Found by the fault sweep: webhooks arrive in any order, so "processed" after a reversal
    is only believed when the gateway says the refund stands now."""
    deposit_id, payment_id = _razorpay_deposit(gateways, wallets, api, user_id)
    gateways.add(responses.POST, f"{RAZORPAY}/payments/{payment_id}/refund", body=requests.exceptions.ReadTimeout("x"))
    refund_id = _refund(api, user_id, deposit_id).body["refund_id"]
    processed = _razorpay_refund(user_id, payment_id, refund_id)
    failed = {**processed, "status": "failed"}
    body, headers = razorpay_webhook("refund.failed", "refund", failed, f"evt_f_{user_id}")
    assert _webhook(api, "razorpay", body, headers).body["outcome"] == "refund_reversed"
    listed = {"entity": "collection", "count": 1, "items": [failed]}
    gateways.add(responses.GET, f"{RAZORPAY}/payments/{payment_id}/refunds", json=listed)
    body, headers = razorpay_webhook("refund.processed", "refund", processed, f"evt_p_{user_id}")

    assert _webhook(api, "razorpay", body, headers).body["outcome"] == "already_applied"
    assert (_txn(user_id, refund_id).status, _balance(api, user_id)["balance"]) == ("FAILED", "1000.50")


# ------------------------------------------------------------- 2. late money confirmed by the client
@pytest.mark.usefixtures("no_fraud_screen")
def test_2_a_late_payment_confirmed_by_the_client_is_credited_or_returned(
    gateways: responses.RequestsMock,
    wallets: Wallets,
    api: InProcessApi,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    travel: Travel,
    aws: Any,
) -> None:
    """The deposit expired (Razorpay cannot cancel an order); the client pays the order it holds
    and confirms with a valid signature. confirm answered FAILED without asking, and no job looks
    at FAILED deposits: only the webhook could still save the money."""
    monkeypatch.setenv("DEPOSIT_EXPIRY_HOURS", "1")
    monkeypatch.setenv("SWEEPER_MIN_AGE_MINUTES", "0")
    order_id, payment_id = f"order_late_{user_id}", f"pay_late_{user_id}"
    txn_id = _razorpay_initiate(gateways, wallets, user_id, order_id)
    gateways.add(
        responses.GET, f"{RAZORPAY}/orders/{order_id}/payments", json={"entity": "collection", "count": 0, "items": []}
    )
    travel.forward(timedelta(hours=2))
    run_job(aws, "DepositSweeperFunction")
    assert _txn(user_id, txn_id).status == "FAILED"
    gateways.add(
        responses.GET,
        f"{RAZORPAY}/payments/{payment_id}",
        json={"id": payment_id, "order_id": order_id, "amount": 100_050, "currency": "INR", "status": "captured"},
    )
    reply = wallets.confirm(
        user_id,
        txn_id,
        payment_id,
        {"razorpay_order_id": order_id, "razorpay_signature": razorpay_payment_signature(order_id, payment_id)},
    )

    assert reply.status == 200, reply.body
    assert (reply.body["status"], _txn(user_id, txn_id).status, _balance(api, user_id)["balance"]) == (
        "COMPLETED",
        "COMPLETED",
        "1000.50",
    )


# ------------------------------------------------------ 3. the recovery jobs' shards starve each other
def _ids_in_shard(prefix: str, shard: int, count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        candidate = f"{prefix}{n:05d}"
        if zlib.crc32(candidate.encode()) % 4 == shard:
            found.append(candidate)
        n += 1
    return found


@pytest.mark.parametrize("target_shard", [0, 3])
def test_3_a_a_busy_shard_does_not_starve_a_paid_deposit_in_another(
    wallets: Wallets, api: InProcessApi, user_id: str, travel: Travel, aws: Any, target_shard: int
) -> None:
    """The job drained shard 0 before it looked at shard 1: while shard 0 had a run's worth of due
    records at every run, a paid deposit in shard 3 stayed PENDING forever."""
    from payments.core.clock import utcnow
    from payments.flows import jobs, recovery
    from payments.http.idempotency import operation_id
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction
    from payments.store.ledger_table import attach_order

    key = next(
        k
        for k in (f"k{n}" for n in range(10_000))
        if zlib.crc32(f"txn_{operation_id(user_id, 'deposits/initiate', k)}".encode()) % 4 == target_shard
    )
    method = wallets.add_method(user_id, token="tok_mock_no_webhook")
    started = api.post(
        "DepositInitiateFunction",
        "/api/v1/payments/deposits/initiate",
        user_id,
        {"amount": "10.00", "payment_method_id": method},
        headers={"Idempotency-Key": key},
    ).body
    wallets.pay(started["order_id"])
    for txn_id in _ids_in_shard(f"txn_busy_{user_id}_", 0, 40):  # unpaid orders the gateway does not know
        owner = f"{txn_id}_owner"
        Ledger().open(
            owner,
            1000,
            NewTransaction(
                txn_id,
                TransactionType.DEPOSIT,
                TransactionStatus.PENDING,
                "INR",
                attributes=recovery.tracked(recovery.DEPOSIT, txn_id, utcnow()),
                referable=True,
            ),
        )
        attach_order(owner, txn_id, "mock", f"order_mock_gone_{txn_id}", utcnow())
    travel.forward(timedelta(minutes=15))
    for _ in range(12):  # one hour of 5-minute runs, three records each
        jobs.sweep_deposits(max_items=3)
        travel.forward(timedelta(minutes=5))
    assert _txn(user_id, started["transaction_id"]).status == "COMPLETED"


def test_3_b_overdue_counts_every_record_past_its_bound_not_only_those_examined(
    user_id: str, travel: Travel, aws: Any
) -> None:
    from payments.core.clock import utcnow
    from payments.flows import recovery
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction

    ids = [f"txn_old_{user_id}_{n}" for n in range(6)]
    for txn_id in ids:
        Ledger().open(
            user_id,
            100,
            NewTransaction(
                txn_id,
                TransactionType.DEPOSIT,
                TransactionStatus.PENDING,
                "INR",
                attributes=recovery.tracked(recovery.DEPOSIT, txn_id, utcnow()),
                referable=True,
            ),
        )
    travel.forward(timedelta(days=3))
    report = recovery.run(recovery.DEPOSIT, lambda item, deadline: "left_alone", Deadline(), max_items=2)
    assert report.examined == 2
    assert report.overdue >= len(ids)


# ------------------------------------------------- 4. a webhook settles a refund during its own send
def test_4_a_a_refund_completed_by_its_webhook_while_being_sent_answers_the_client(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe answers the create with "pending" while its refund.updated(succeeded) was applied
    during the call: the conditional update of "pending" failed, uncaught (502 to the client)."""
    monkeypatch.setenv("GATEWAY_ORDER", "stripe")
    intent = f"pi_race_{user_id}"
    deposit_id = _stripe_deposit(gateways, wallets, api, user_id, intent)

    def create(request: Any) -> tuple[int, dict[str, str], str]:
        body_text = request.body.decode() if isinstance(request.body, bytes) else request.body
        reference = parse_qs(body_text)["metadata[reference]"][0]
        refund = {
            "id": f"re_{user_id}",
            "object": "refund",
            "amount": 100_050,
            "currency": "inr",
            "payment_intent": intent,
            "charge": f"ch_{intent}",
            "metadata": {"reference": reference},
        }
        body, headers = stripe_webhook("refund.updated", {**refund, "status": "succeeded"}, f"evt_race_{user_id}")
        assert _webhook(api, "stripe", body, headers).body["outcome"] == "refund_completed"
        return 200, {}, json.dumps({**refund, "status": "pending"})

    gateways.add_callback(responses.POST, f"{STRIPE}/refunds", callback=create)
    reply = _refund(api, user_id, deposit_id)
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "COMPLETED"


def test_4_b_one_record_that_fails_does_not_stop_the_recovery_run(user_id: str, aws: Any, travel: Travel) -> None:
    from payments.core.clock import utcnow
    from payments.flows import recovery
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction

    ids = [f"txn_boom_{user_id}_{n}" for n in range(3)]
    for txn_id in ids:
        Ledger().open(
            user_id,
            100,
            NewTransaction(
                txn_id,
                TransactionType.REFUND,
                TransactionStatus.PROCESSING,
                "INR",
                attributes=recovery.tracked(recovery.REFUND, txn_id, utcnow()),
                referable=True,
            ),
        )
    travel.forward(timedelta(minutes=10))
    seen: list[str] = []

    def resolve(item: Any, deadline: Deadline) -> str:
        seen.append(item.txn_id)
        if len(seen) == 1:
            raise RuntimeError("boom")
        return "left_alone"

    report = recovery.run(recovery.REFUND, resolve, Deadline(), max_items=50)
    assert set(ids) <= set(seen)
    assert report.outcomes.get("error") == 1


# ------------------------------------------------------------- 5. a captured amount that differs
def test_5_a_a_mismatched_capture_is_postponed_and_flagged_not_re_polled_every_run(
    gateways: responses.RequestsMock,
    wallets: Wallets,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    travel: Travel,
    aws: Any,
) -> None:
    monkeypatch.setenv("DEPOSIT_EXPIRY_HOURS", "1")
    order_id = f"order_mm_{user_id}"
    txn_id = _razorpay_initiate(gateways, wallets, user_id, order_id)
    gateways.add(
        responses.GET,
        f"{RAZORPAY}/orders/{order_id}/payments",
        json={
            "entity": "collection",
            "count": 1,
            "items": [
                {
                    "id": f"pay_mm_{user_id}",
                    "order_id": order_id,
                    "amount": 100,
                    "currency": "INR",
                    "status": "captured",
                }
            ],
        },
    )
    due_before = _txn(user_id, txn_id).gsi2sk
    travel.forward(timedelta(minutes=30))
    run_job(aws, "DepositSweeperFunction")
    item = _txn(user_id, txn_id)
    assert item.status == "PENDING"
    assert item.gsi2sk != due_before
    assert item.recovery_attempts == 1
    assert item.stage == "AMOUNT_MISMATCH"


@pytest.mark.usefixtures("no_fraud_screen")
def test_5_b_a_late_payment_of_another_amount_is_returned_whole(
    gateways: responses.RequestsMock,
    wallets: Wallets,
    api: InProcessApi,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    travel: Travel,
    aws: Any,
) -> None:
    """A closed deposit never reached the wallet: money captured for it later is the payer's
    whatever its amount, so it goes back whole."""
    monkeypatch.setenv("DEPOSIT_EXPIRY_HOURS", "1")
    monkeypatch.setenv("SWEEPER_MIN_AGE_MINUTES", "0")
    order_id, payment_id = f"order_lm_{user_id}", f"pay_lm_{user_id}"
    txn_id = _razorpay_initiate(gateways, wallets, user_id, order_id)
    empty = {"entity": "collection", "count": 0, "items": []}
    gateways.add(responses.GET, f"{RAZORPAY}/orders/{order_id}/payments", json=empty)
    travel.forward(timedelta(hours=2))
    run_job(aws, "DepositSweeperFunction")
    assert _txn(user_id, txn_id).status == "FAILED"
    refund = {**_razorpay_refund(user_id, payment_id, f"ret_{txn_id}"), "amount": 5_000}
    gateways.add(responses.POST, f"{RAZORPAY}/payments/{payment_id}/refund", json=refund)

    assert _razorpay_paid(api, payment_id, order_id, f"evt_lm_{user_id}", amount=5_000) == "returned"

    returned = _txn(user_id, f"ret_{txn_id}")
    assert (returned.status, returned.amount, _txn(user_id, txn_id).status) == ("COMPLETED", 5_000, "REVERSED")
    assert _balance(api, user_id)["balance"] == "0.00"


# ----------------------------------------------------- 6. a verified dispute event is never a 4xx
def test_6_a_a_dispute_created_while_the_wallet_keeps_changing_is_retried_not_refused(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.flows import chargebacks
    from payments.store.ledger_table import WalletItem, current_wallet

    order_id, payment_id = f"order_d_{user_id}", f"pay_d_{user_id}"
    _razorpay_initiate(gateways, wallets, user_id, order_id)
    assert _razorpay_paid(api, payment_id, order_id, f"evt_dp_{user_id}") == "credited"

    def stale(uid: str) -> WalletItem:
        wallet = current_wallet(uid)
        wallet.available = wallet.available + 1  # the wallet moved on since this was read
        return wallet

    monkeypatch.setattr(chargebacks, "current_wallet", stale)
    dispute = {
        "id": f"disp_{user_id}",
        "entity": "dispute",
        "payment_id": payment_id,
        "amount": 200_000,
        "currency": "INR",
        "status": "open",
    }
    payment = {"id": payment_id, "order_id": order_id, "amount": 100_050, "currency": "INR", "status": "captured"}
    body, headers = razorpay_webhook("payment.dispute.created", "dispute", dispute, f"evt_d_{user_id}", payment=payment)
    reply = _webhook(api, "razorpay", body, headers)
    assert reply.status == 503, reply.body


def test_6_b_a_dispute_on_a_deposit_that_was_never_credited_locks_nothing(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction

    Ledger().credit(
        user_id,
        500_000,
        NewTransaction(f"fund_{user_id}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED, "INR"),
    )
    order_id, payment_id = f"order_nc_{user_id}", f"pay_nc_{user_id}"
    _razorpay_initiate(gateways, wallets, user_id, order_id)  # PENDING: never credited
    dispute = {
        "id": f"disp_nc_{user_id}",
        "entity": "dispute",
        "payment_id": payment_id,
        "amount": 100_050,
        "currency": "INR",
        "status": "open",
    }
    payment = {"id": payment_id, "order_id": order_id, "amount": 100_050, "currency": "INR", "status": "captured"}
    body, headers = razorpay_webhook(
        "payment.dispute.created", "dispute", dispute, f"evt_nc_{user_id}", payment=payment
    )
    reply = _webhook(api, "razorpay", body, headers)
    assert reply.status == 200, reply.body
    assert reply.body["outcome"] == "dispute_on_uncredited_deposit"
    assert _balance(api, user_id)["locked_balance"] == "0.00"


# ------------------------------------------------- 7. "no payout" concluded before the gateway settles
def test_7_a_no_payout_is_not_concluded_right_after_an_attempt_that_may_still_land(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch, travel: Travel
) -> None:
    """The last attempt timed out seconds ago and may still be processed: an empty listing now does
    not prove that no payout will appear. The saga goes to review; the recovery job decides later."""
    event = _payout_withdrawal(user_id, wallets, monkeypatch)
    gateways.add(responses.POST, f"{RAZORPAY}/payouts", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(withdrawal_saga.TransientGatewayError):
        withdrawal_saga.request_payout(event)
    gateways.add(responses.GET, f"{RAZORPAY}/payouts", json={"entity": "collection", "count": 0, "items": []})
    assert withdrawal_saga.verify_payout(event)["outcome"] == "pending"
    travel.forward(withdrawals.PAYOUT_QUIET + timedelta(seconds=1))
    verified = withdrawal_saga.verify_payout(event)
    assert verified["outcome"] == "not_sent"
    withdrawal_saga.release({**event, "verify": verified})


# ---------------------------------------------- 8. a second payment captured for a completed deposit
def test_8_a_a_second_payment_for_a_completed_deposit_is_returned_not_silently_kept(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    order_id, second = f"order_dup_{user_id}", f"pay_two_{user_id}"
    _razorpay_initiate(gateways, wallets, user_id, order_id)
    assert _razorpay_paid(api, f"pay_one_{user_id}", order_id, f"evt_one_{user_id}") == "credited"
    refund = {**_razorpay_refund(user_id, second, f"ret_{second}"), "id": f"rfnd_two_{user_id}"}
    gateways.add(responses.POST, f"{RAZORPAY}/payments/{second}/refund", json=refund)

    assert _razorpay_paid(api, second, order_id, f"evt_two_{user_id}") == "second_payment_returned"
    assert _razorpay_paid(api, second, order_id, f"evt_two_again_{user_id}") == "already_applied"

    returned = _txn(user_id, f"ret_{second}")
    assert (returned.status, returned.amount, returned.wallet_debited) == ("COMPLETED", 100_050, False)
    assert _balance(api, user_id)["balance"] == "1000.50"
    sent = [call for call in gateways.calls if call.request.url.endswith(f"/payments/{second}/refund")]
    assert len(sent) == 1
