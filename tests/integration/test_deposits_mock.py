"""The deposit story on the Mock gateway, in-process: every report of a payment credits once."""

import pytest

from tests.support.api import InProcessApi, Wallets
from tests.support.signing import mock_webhook

WEBHOOK = "/webhooks/mock"


def _start(wallets: Wallets, user_id: str, token: str = "tok_mock_success", amount: str = "1000.50") -> dict:
    method_id = wallets.add_method(user_id, token)
    reply = wallets.initiate(user_id, method_id, amount)
    assert reply.status == 200, reply.body
    return reply.body


def _mock_data(paid: dict) -> dict[str, str]:
    return {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]}


def test_initiate_answers_every_field_of_the_spec(wallets: Wallets, user_id: str) -> None:
    body = _start(wallets, user_id)
    assert body.keys() == {
        "success",
        "transaction_id",
        "order_id",
        "amount",
        "currency",
        "checkout_url",
        "key",
        "gateway",
    }
    assert (body["success"], body["amount"], body["currency"], body["gateway"]) == (True, "1000.50", "INR", "MOCK")
    assert body["checkout_url"] == f"http://127.0.0.1:3000/mock-gateway/checkout/{body['order_id']}"
    assert wallets.transaction(user_id, body["transaction_id"])["status"] == "PENDING"


def test_webhook_first_then_confirm_credits_once(wallets: Wallets, user_id: str) -> None:
    started = _start(wallets, user_id)
    paid = wallets.pay(started["order_id"])  # the mock sends payment.captured to /webhooks/mock
    assert wallets.balance(user_id) == "1000.50"
    confirmed = wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], _mock_data(paid))
    assert confirmed.status == 200
    assert confirmed.body["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "1000.50"


def test_confirm_first_then_the_webhook_credits_once(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    assert wallets.balance(user_id) == "0.00"
    confirmed = wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], _mock_data(paid))
    assert (confirmed.status, confirmed.body["status"]) == (200, "COMPLETED")
    entity = {"id": paid["payment_id"], "order_id": paid["order_id"], "amount": 100050, "currency": "INR"}
    body, headers = mock_webhook("payment.captured", "payment", entity, "evt_late_1")
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "already_applied")
    assert wallets.balance(user_id) == "1000.50"
    again = wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], _mock_data(paid))
    assert again.body["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "1000.50"


def test_a_replayed_webhook_is_applied_once(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    entity = {"id": paid["payment_id"], "order_id": paid["order_id"], "amount": 100050, "currency": "INR"}
    body, headers = mock_webhook("payment.captured", "payment", entity, "evt_replayed")
    outcomes = [
        api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers).body["outcome"]
        for _ in range(3)
    ]
    assert outcomes == ["credited", "duplicate", "duplicate"]
    assert wallets.balance(user_id) == "1000.50"


def test_a_forged_webhook_is_400_and_changes_nothing(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    entity = {"id": paid["payment_id"], "order_id": paid["order_id"], "amount": 100050, "currency": "INR"}
    body, headers = mock_webhook("payment.captured", "payment", entity, "evt_forged")
    headers["X-Mock-Signature"] = "0" * 64
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["error"]["code"]) == (400, "WEBHOOK_REFUSED")
    tampered = body.replace("100050", "999999")
    _, good_headers = mock_webhook("payment.captured", "payment", entity, "evt_forged")
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=tampered, headers=good_headers)
    assert reply.status == 400
    assert wallets.balance(user_id) == "0.00"
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"


def test_a_webhook_for_another_amount_credits_nothing(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    entity = {"id": paid["payment_id"], "order_id": paid["order_id"], "amount": 1, "currency": "INR"}
    body, headers = mock_webhook("payment.captured", "payment", entity, "evt_short")
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "mismatch")
    assert wallets.balance(user_id) == "0.00"


@pytest.mark.parametrize("event", ["payment.dispute.under_review", "order.paid", "settlement.processed"])
def test_unknown_event_types_are_acknowledged_and_recorded(api: InProcessApi, event: str) -> None:
    body, headers = mock_webhook(event, "payment", {"id": "pay_x", "order_id": "order_x"}, f"evt_{event}")
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "ignored")


def test_a_webhook_for_an_unknown_order_is_acknowledged(api: InProcessApi) -> None:
    """An hour after it was sent an event we still cannot match is not ours (younger ones: 503)."""
    entity = {"id": "pay_nobody", "order_id": "order_mock_nobody", "amount": 100, "currency": "INR"}
    body, headers = mock_webhook("payment.captured", "payment", entity, "evt_nobody", age_s=3601)
    reply = api.post("WebhookMockFunction", WEBHOOK, None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "unknown_order")


def test_a_decline_token_fails_the_deposit(wallets: Wallets, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_decline")
    paid = wallets.pay(started["order_id"])
    assert (paid["status"], paid["signature"]) == ("FAILED", None)
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "FAILED"
    assert wallets.balance(user_id) == "0.00"


def test_a_forged_confirmation_is_400_and_the_deposit_stays_pending(wallets: Wallets, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    forged = {"mock_order_id": paid["order_id"], "mock_signature": "f" * 64}
    reply = wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], forged)
    assert (reply.status, reply.body["error"]["code"]) == (400, "INVALID_SIGNATURE")
    other_order = {"mock_order_id": "order_mock_other", "mock_signature": paid["signature"]}
    assert wallets.confirm(user_id, started["transaction_id"], paid["payment_id"], other_order).status == 400
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"
    assert wallets.balance(user_id) == "0.00"


def test_nobody_can_confirm_another_users_deposit(wallets: Wallets, user_id: str) -> None:
    started = _start(wallets, user_id, token="tok_mock_no_webhook")
    paid = wallets.pay(started["order_id"])
    reply = wallets.confirm("mallory", started["transaction_id"], paid["payment_id"], _mock_data(paid))
    assert reply.status == 404
    assert wallets.balance(user_id) == wallets.balance("mallory") == "0.00"


@pytest.mark.parametrize("amount", ["-1", "0", "NaN", "Infinity", "10.001", "abc", "1e400", True, None])
def test_bad_amounts_are_pay_001_and_record_nothing(wallets: Wallets, api: InProcessApi, user_id: str, amount) -> None:
    method_id = wallets.add_method(user_id)
    reply = wallets.initiate(user_id, method_id, amount)
    assert (reply.status, reply.body["error"]["code"]) == (400, "PAY_001")
    history = api.get("WalletTransactionsFunction", "/api/v1/payments/wallet/transactions", user_id).body
    assert history["total"] == 0


def test_json_number_amounts_are_exact(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    method_id = wallets.add_method(user_id)
    raw = '{"amount": 1000.1, "payment_method_id": "' + method_id + '"}'
    reply = api.post("DepositInitiateFunction", "/api/v1/payments/deposits/initiate", user_id, None, raw_body=raw)
    assert reply.body["amount"] == "1000.10"


def test_someone_elses_payment_method_is_pay_003(wallets: Wallets, user_id: str) -> None:
    theirs = wallets.add_method("somebody_else")
    reply = wallets.initiate(user_id, theirs)
    assert (reply.status, reply.body["error"]["code"]) == (404, "PAY_003")


def test_stripe_cannot_take_upi(wallets: Wallets, user_id: str) -> None:
    method_id = wallets.add_method(user_id, kind="UPI")
    reply = wallets.initiate(user_id, method_id, gateway="stripe")
    assert reply.status == 400
    assert reply.body["error"]["message"] == "stripe does not support UPI"


def test_idempotency_key_replays_and_refuses_a_different_body(
    wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    method_id = wallets.add_method(user_id)
    headers = {"Idempotency-Key": "key-1"}
    body = {"amount": "25.00", "payment_method_id": method_id}
    first = api.post("DepositInitiateFunction", "/api/v1/payments/deposits/initiate", user_id, body, headers=headers)
    again = api.post("DepositInitiateFunction", "/api/v1/payments/deposits/initiate", user_id, body, headers=headers)
    assert first.status == again.status == 200
    assert first.body == again.body
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    other = api.post(
        "DepositInitiateFunction",
        "/api/v1/payments/deposits/initiate",
        user_id,
        {**body, "amount": "26.00"},
        headers=headers,
    )
    assert (other.status, other.body["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT")
    history = api.get("WalletTransactionsFunction", "/api/v1/payments/wallet/transactions", user_id).body
    assert history["total"] == 1
    someone_else = api.post(
        "DepositInitiateFunction", "/api/v1/payments/deposits/initiate", "other_user", body, headers=headers
    )
    assert someone_else.status == 404  # keys are per user: bob's key-1 is not alice's


def test_refusals_are_remembered_under_the_key(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    headers = {"Idempotency-Key": "key-refused"}
    body = {"amount": "-5", "payment_method_id": "pm_x"}
    first = api.post("DepositInitiateFunction", "/api/v1/payments/deposits/initiate", user_id, body, headers=headers)
    again = api.post("DepositInitiateFunction", "/api/v1/payments/deposits/initiate", user_id, body, headers=headers)
    assert first.status == again.status == 400
    assert first.body == again.body


def test_the_mock_checkout_takes_pay_or_decline_and_nothing_else(
    wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    """Any other action once paid the order; it is refused now, as docs/openapi.json says."""
    started = _start(wallets, user_id)
    path = f"/mock-gateway/checkout/{started['order_id']}/pay"
    refused = api.post(
        "MockCheckoutFunction", path, None, {"action": "refund"}, path_params={"order_id": started["order_id"]}
    )
    assert (refused.status, refused.body["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"
    paid = api.post("MockCheckoutFunction", path, None, {}, path_params={"order_id": started["order_id"]})
    assert paid.status == 200, paid.body  # pay is the default
    assert wallets.balance(user_id) == "1000.50"
