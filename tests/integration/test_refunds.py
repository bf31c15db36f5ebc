"""Refunds of completed deposits: full, partial, never beyond what was paid, once per key and event."""

from typing import Any

import pytest

from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from tests.support.api import InProcessApi, Wallets
from tests.support.signing import mock_webhook

REFUNDS = "/api/v1/payments/refunds"


def _deposit(wallets: Wallets, user_id: str, token: str = "tok_mock_success", amount: str = "1000.00") -> str:
    started = wallets.initiate(user_id, wallets.add_method(user_id, token=token), amount).body
    wallets.pay(started["order_id"])
    return started["transaction_id"]


def _refund(api: InProcessApi, user_id: str, deposit_id: str, amount: Any = None, **headers: str) -> Any:
    body = {"transaction_id": deposit_id} | ({"amount": amount} if amount is not None else {})
    return api.post("RefundCreateFunction", REFUNDS, user_id, body, headers=headers)


def test_a_full_refund(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    reply = _refund(api, user_id, deposit_id)
    assert reply.status == 200, reply.body
    assert (reply.body["amount"], reply.body["status"]) == ("1000.00", "COMPLETED")
    assert wallets.balance(user_id) == "0.00"
    assert wallets.transaction(user_id, reply.body["refund_id"])["type"] == "REFUND"


def test_partial_refunds_up_to_what_was_paid(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    assert _refund(api, user_id, deposit_id, "300.00").status == 200
    assert _refund(api, user_id, deposit_id, "700.00").status == 200
    over = _refund(api, user_id, deposit_id, "0.01")
    assert (over.status, over.body["error"]["code"]) == (400, "PAY_001")
    assert wallets.balance(user_id) == "0.00"


def test_an_over_refund_is_refused_and_changes_nothing(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    reply = _refund(api, user_id, deposit_id, "1000.01")
    assert (reply.status, reply.body["error"]["code"]) == (400, "PAY_001")
    assert reply.body["error"]["message"] == "At most 1000.00 of this deposit can still be refunded"
    assert wallets.balance(user_id) == "1000.00"


def test_a_refund_of_spent_money_is_pay_002(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    spend = NewTransaction("txn_spent", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED)
    Ledger().debit(user_id, 90_000, spend)
    reply = _refund(api, user_id, deposit_id, "200.00")
    assert (reply.status, reply.body["error"]["code"]) == (402, "PAY_002")
    assert wallets.balance(user_id) == "100.00"


def test_the_same_idempotency_key_refunds_once(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    first = _refund(api, user_id, deposit_id, "100.00", **{"Idempotency-Key": "refund-1"})
    again = _refund(api, user_id, deposit_id, "100.00", **{"Idempotency-Key": "refund-1"})
    assert first.body == again.body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert wallets.balance(user_id) == "900.00"


def test_refund_processed_replayed_changes_nothing(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    refund = _refund(api, user_id, deposit_id, "100.00").body
    entity = {
        "id": refund["gateway_refund_id"],
        "payment_id": "pay_x",
        "amount": 10000,
        "currency": "INR",
        "notes": {"reference": refund["refund_id"]},
    }
    outcomes = []
    for event_id in ("evt_rf_1", "evt_rf_1", "evt_rf_2"):
        body, headers = mock_webhook("refund.processed", "refund", entity, event_id)
        outcomes.append(
            api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers).body[
                "outcome"
            ]
        )
    assert outcomes == ["already_applied", "duplicate", "already_applied"]
    assert wallets.balance(user_id) == "900.00"


def test_a_failed_refund_is_reversed_once_and_refundable_again(
    api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    deposit_id = _deposit(wallets, user_id, token="tok_mock_refund_fail")
    refused = _refund(api, user_id, deposit_id, "400.00")
    assert (refused.status, refused.body["success"], refused.body["error"]["code"]) == (422, False, "GATEWAY_REFUSED")
    refund = refused.body["error"]["details"]
    assert (refund["status"], refund["transaction_id"]) == ("FAILED", deposit_id)
    assert wallets.transaction(user_id, refund["refund_id"])["status"] == "FAILED"  # recorded, as failed
    assert wallets.balance(user_id) == "1000.00"
    entity = {
        "id": refund["gateway_refund_id"],
        "payment_id": "pay_x",
        "amount": 40000,
        "currency": "INR",
        "notes": {"reference": refund["refund_id"]},
    }
    body, headers = mock_webhook("refund.failed", "refund", entity, "evt_rf_failed_again")
    api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert wallets.balance(user_id) == "1000.00"
    again = _refund(api, user_id, deposit_id).body["error"]["details"]  # refused again, by this token
    assert (again["amount"], again["currency"]) == ("1000.00", "INR")  # the failed 400 was refundable again


def test_a_failure_of_another_gateway_refund_under_our_reference_is_not_applied(
    api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    """Our refund was made (gateway refund A); a refund.failed for another gateway refund B with
    our reference (a duplicate attempt) says nothing about A: crediting the wallet back would
    refund twice, and A's id must stay on the record."""
    deposit_id = _deposit(wallets, user_id)
    refund = _refund(api, user_id, deposit_id, "100.00").body
    assert (refund["status"], wallets.balance(user_id)) == ("COMPLETED", "900.00")
    entity = {"id": "rfnd_someone_else", "payment_id": "pay_x", "amount": 10000, "currency": "INR"}
    entity["notes"] = {"reference": refund["refund_id"]}
    body, headers = mock_webhook("refund.failed", "refund", entity, f"evt_other_{user_id}")
    reply = api.post("WebhookMockFunction", "/webhooks/mock", None, None, raw_body=body, headers=headers)
    assert reply.body["outcome"] == "mismatch"
    assert wallets.balance(user_id) == "900.00"
    assert wallets.transaction(user_id, refund["refund_id"])["status"] == "COMPLETED"


def test_a_refused_refund_is_replayed_as_refused_under_its_key(
    api: InProcessApi, wallets: Wallets, user_id: str
) -> None:
    """A client retrying the refused refund with its Idempotency-Key gets the same refusal; the
    refund is not sent again and the wallet is debited and credited back once."""
    deposit_id = _deposit(wallets, user_id, token="tok_mock_refund_fail")
    first = _refund(api, user_id, deposit_id, "400.00", **{"Idempotency-Key": "refund-once"})
    again = _refund(api, user_id, deposit_id, "400.00", **{"Idempotency-Key": "refund-once"})
    assert (first.status, again.status, again.body) == (422, 422, first.body)
    assert again.headers["Idempotent-Replayed"] == "true"
    refunds = [txn for txn in wallets.history(user_id) if txn["type"] == "REFUND"]
    assert [(txn["status"], txn["amount"]) for txn in refunds] == [("FAILED", "400.00")]
    assert wallets.balance(user_id) == "1000.00"


@pytest.mark.parametrize("who", ["mallory"])
def test_nobody_refunds_another_users_deposit(api: InProcessApi, wallets: Wallets, user_id: str, who: str) -> None:
    deposit_id = _deposit(wallets, user_id)
    assert _refund(api, who, deposit_id).status == 404
    assert wallets.balance(user_id) == "1000.00"


def test_a_pending_deposit_cannot_be_refunded(api: InProcessApi, wallets: Wallets, user_id: str) -> None:
    started = wallets.initiate(user_id, wallets.add_method(user_id)).body
    assert _refund(api, user_id, started["transaction_id"]).status == 400
