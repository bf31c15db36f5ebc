"""Deposits through the real Razorpay and Stripe SDKs (HTTP stubbed), failover and the circuit."""

import json

import pytest
import requests
import responses

from tests.support.api import InProcessApi, Wallets
from tests.support.signing import (
    GATEWAY_ENV,
    razorpay_payment_signature,
    razorpay_webhook,
    stripe_webhook,
)

RAZORPAY = "https://api.razorpay.com/v1"
STRIPE = "https://api.stripe.com/v1"


def _razorpay_order(http: responses.RequestsMock, order_id: str = "order_RZP1", status: int = 200) -> None:
    body = {"id": order_id, "entity": "order", "amount": 100050, "currency": "INR", "receipt": "x", "status": "created"}
    http.add(responses.POST, f"{RAZORPAY}/orders", json=body if status == 200 else {"error": {}}, status=status)


def _stripe_intent(http: responses.RequestsMock, intent_id: str = "pi_TEST1", status: int = 200) -> None:
    body = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 100050,
        "currency": "inr",
        "status": "requires_payment_method",
        "client_secret": f"{intent_id}_secret_x",
        "latest_charge": None,
    }
    error = {"error": {"type": "api_error", "message": "boom"}}
    http.add(responses.POST, f"{STRIPE}/payment_intents", json=body if status == 200 else error, status=status)


def test_razorpay_deposit_by_confirm_then_webhook(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    _razorpay_order(gateways)
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    started = wallets.initiate(user_id, method_id).body
    assert (started["gateway"], started["order_id"], started["key"]) == ("RAZORPAY", "order_RZP1", "rzp_test_key")
    assert started["checkout_url"] == "https://checkout.razorpay.com/v1/checkout.js"
    sent = json.loads(gateways.calls[0].request.body)
    assert (sent["receipt"], sent["amount"], sent["currency"]) == (started["transaction_id"], 100050, "INR")

    payment = {"id": "pay_1", "order_id": "order_RZP1", "amount": 100050, "currency": "INR", "status": "captured"}
    gateways.add(responses.GET, f"{RAZORPAY}/payments/pay_1", json=payment)
    data = {"razorpay_order_id": "order_RZP1", "razorpay_signature": razorpay_payment_signature("order_RZP1", "pay_1")}
    confirmed = wallets.confirm(user_id, started["transaction_id"], "pay_1", data)
    assert (confirmed.status, confirmed.body["status"]) == (200, "COMPLETED")

    entity = {"id": "pay_1", "order_id": "order_RZP1", "amount": 100050, "currency": "INR", "status": "captured"}
    body, headers = razorpay_webhook("payment.captured", "payment", entity, "evt_rzp_1")
    reply = api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "already_applied")
    assert wallets.balance(user_id) == "1000.50"


def test_razorpay_webhook_before_confirm(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    _razorpay_order(gateways, "order_RZP2")
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    started = wallets.initiate(user_id, method_id).body
    entity = {"id": "pay_2", "order_id": "order_RZP2", "amount": 100050, "currency": "INR", "status": "captured"}
    body, headers = razorpay_webhook("payment.captured", "payment", entity, "evt_rzp_2")
    first = api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers)
    replay = api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers)
    assert (first.body["outcome"], replay.body["outcome"]) == ("credited", "duplicate")
    payment = {"id": "pay_2", "order_id": "order_RZP2", "amount": 100050, "currency": "INR", "status": "captured"}
    gateways.add(responses.GET, f"{RAZORPAY}/payments/pay_2", json=payment)
    data = {"razorpay_order_id": "order_RZP2", "razorpay_signature": razorpay_payment_signature("order_RZP2", "pay_2")}
    assert wallets.confirm(user_id, started["transaction_id"], "pay_2", data).body["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "1000.50"


def test_razorpay_failed_then_captured_on_a_retry_of_the_same_order(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str
) -> None:
    """A Razorpay order takes several attempts: a failed attempt leaves the deposit open (its KYC
    usage reserved), and the capture that follows credits once."""
    _razorpay_order(gateways, "order_RZP3")
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    started = wallets.initiate(user_id, method_id).body
    failed = {
        "id": "pay_a",
        "order_id": "order_RZP3",
        "amount": 100050,
        "currency": "INR",
        "status": "failed",
        "error_description": "Card declined",
    }
    body, headers = razorpay_webhook("payment.failed", "payment", failed, "evt_rzp_3a")
    assert (
        api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers).body[
            "outcome"
        ]
        == "pending"
    )
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "PENDING"
    captured = {**failed, "id": "pay_b", "status": "captured", "error_description": None}
    body, headers = razorpay_webhook("payment.captured", "payment", captured, "evt_rzp_3b")
    assert (
        api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers).body[
            "outcome"
        ]
        == "credited"
    )
    assert wallets.transaction(user_id, started["transaction_id"])["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "1000.50"


def test_razorpay_forged_webhook_is_refused(gateways: responses.RequestsMock, api: InProcessApi) -> None:
    body, headers = razorpay_webhook("payment.captured", "payment", {"id": "p", "order_id": "o"}, "evt_forged")
    headers["X-Razorpay-Signature"] = "deadbeef" * 8
    reply = api.post("WebhookRazorpayFunction", "/webhooks/razorpay", None, None, raw_body=body, headers=headers)
    assert reply.status == 400


def test_stripe_deposit_confirmed_by_retrieving_the_intent(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ORDER", "stripe,mock")
    _stripe_intent(gateways)
    method_id = wallets.add_method(user_id, token="pm_card_visa", gateway="stripe")
    started = wallets.initiate(user_id, method_id).body
    assert (started["gateway"], started["client_secret"]) == ("STRIPE", "pi_TEST1_secret_x")
    assert gateways.calls[0].request.headers["Idempotency-Key"] == f"order-{started['transaction_id']}"
    succeeded = {
        "id": "pi_TEST1",
        "object": "payment_intent",
        "amount": 100050,
        "amount_received": 100050,
        "currency": "inr",
        "status": "succeeded",
        "latest_charge": "ch_1",
    }
    gateways.add(responses.GET, f"{STRIPE}/payment_intents/pi_TEST1", json=succeeded)
    confirmed = wallets.confirm(user_id, started["transaction_id"], "pi_TEST1", {})
    assert (confirmed.status, confirmed.body["status"]) == (200, "COMPLETED")
    body, headers = stripe_webhook("payment_intent.succeeded", succeeded, "evt_stripe_1")
    reply = api.post("WebhookStripeFunction", "/webhooks/stripe", None, None, raw_body=body, headers=headers)
    assert (reply.status, reply.body["outcome"]) == (200, "already_applied")
    assert wallets.balance(user_id) == "1000.50"


def test_stripe_webhook_outside_the_tolerance_is_refused(gateways: responses.RequestsMock, api: InProcessApi) -> None:
    body, headers = stripe_webhook("payment_intent.succeeded", {"id": "pi_old"}, "evt_old", age_s=301)
    assert (
        api.post("WebhookStripeFunction", "/webhooks/stripe", None, None, raw_body=body, headers=headers).status == 400
    )


def test_failover_from_razorpay_5xx_to_stripe(gateways: responses.RequestsMock, wallets: Wallets, user_id: str) -> None:
    _razorpay_order(gateways, status=503)
    _stripe_intent(gateways, "pi_FAILOVER")
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["gateway"], reply.body["order_id"]) == (200, "STRIPE", "pi_FAILOVER")
    # The Razorpay token is not sent to Stripe: the customer pays on Stripe's checkout instead.
    assert "token_RZP_card" not in str(gateways.calls[-1].request.body)


def test_failover_on_timeouts_never_reaches_the_mock(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str
) -> None:
    """A real gateway fails over to the next real one only: the Mock, enabled on this stack, is
    never a customer's fallback (it takes no real money)."""
    gateways.add(responses.POST, f"{RAZORPAY}/orders", body=requests.exceptions.ConnectTimeout("slow"))
    gateways.add(responses.POST, f"{STRIPE}/payment_intents", body=requests.exceptions.ConnectionError("down"))
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (502, "PAY_004")
    assert [call.request.url.split("/v1/")[1] for call in gateways.calls] == ["orders", "payment_intents"]


def test_a_stack_with_the_mock_has_no_real_gateways(
    wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch, http: responses.RequestsMock
) -> None:
    """Razorpay and Stripe credentials on a stack with the Mock (EnableMockGateway): the real
    gateways stay off, so money the public Mock checkout "paid" can never leave through them;
    Mock methods use the Mock (no HTTP call is made: the http fixture has none registered)."""
    for name, value in GATEWAY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_ORDER", "razorpay,stripe,mock")
    razorpay_method = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    refused = wallets.initiate(user_id, razorpay_method)
    assert (refused.status, refused.body["error"]["code"]) == (400, "GATEWAY_NOT_CONFIGURED")
    assert wallets.initiate(user_id, wallets.add_method(user_id)).body["gateway"] == "MOCK"


@pytest.mark.parametrize(("method_gateway", "asked"), [("razorpay", "mock"), ("mock", "razorpay")])
def test_a_method_is_never_paid_across_mock_and_real(
    wallets: Wallets, user_id: str, method_gateway: str, asked: str
) -> None:
    token = "token_RZP_card" if method_gateway == "razorpay" else "tok_mock_success"
    method_id = wallets.add_method(user_id, token=token, gateway=method_gateway)
    reply = wallets.initiate(user_id, method_id, "100.00", gateway=asked)
    assert (reply.status, reply.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert reply.body["error"]["details"] == {"field": "gateway"}


@pytest.mark.parametrize("gateway", ["razorpay", "stripe"])
def test_a_gateway_without_credentials_is_refused_not_replaced(wallets: Wallets, user_id: str, gateway: str) -> None:
    """No credentials for the method's gateway on this stack (the gateways fixture is not used):
    400 GATEWAY_NOT_CONFIGURED, and no deposit is recorded, instead of a silent Mock deposit."""
    token = {"razorpay": "token_RZP_card", "stripe": "pm_card_visa"}[gateway]
    method_id = wallets.add_method(user_id, token=token, gateway=gateway)
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (400, "GATEWAY_NOT_CONFIGURED")
    assert reply.body["error"]["details"] == {"gateway": gateway}
    history = wallets.api.get("WalletTransactionsFunction", "/api/v1/payments/wallet/transactions", user_id)
    assert history.body["total"] == 0


def test_all_gateways_down_is_pay_004_with_the_deposit_failed(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ORDER", "razorpay,stripe")
    _razorpay_order(gateways, status=500)
    _stripe_intent(gateways, status=500)
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (502, "PAY_004")
    txn = wallets.transaction(user_id, reply.body["error"]["details"]["transaction_id"])
    assert txn["status"] == "FAILED"
    assert wallets.balance(user_id) == "0.00"


def test_an_open_circuit_skips_the_gateway_without_calling_it(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ORDER", "razorpay,stripe")
    _razorpay_order(gateways, status=502)
    for n in range(4):  # registered in order: one PaymentIntent per deposit
        _stripe_intent(gateways, intent_id=f"pi_circuit_{n}")
    users = [f"{user_id}_{n}" for n in range(4)]  # four customers: no fraud rule sees a burst
    methods = [wallets.add_method(user, token="token_RZP_card", gateway="razorpay") for user in users]
    for user, method_id in list(zip(users, methods, strict=True))[:3]:
        reply = wallets.initiate(user, method_id)
        assert reply.body.get("gateway") == "STRIPE", reply.body
    razorpay_calls = [call for call in gateways.calls if call.request.url.startswith(RAZORPAY)]
    assert len(razorpay_calls) == 3
    assert wallets.initiate(users[3], methods[3]).body["gateway"] == "STRIPE"
    after = [call for call in gateways.calls if call.request.url.startswith(RAZORPAY)]
    assert len(after) == 3  # the circuit is open: Razorpay was not tried


def test_a_refused_order_is_a_4xx_without_failover(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str
) -> None:
    """The gateway answered no (its 4xx): the request is wrong as made, so the client gets a 4xx
    with the reason, the deposit is FAILED, and no other gateway is asked."""
    gateways.add(
        responses.POST,
        f"{RAZORPAY}/orders",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "amount too small"}},
    )
    method_id = wallets.add_method(user_id, token="token_RZP_card", gateway="razorpay")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (422, "GATEWAY_REFUSED")
    assert "amount too small" in reply.body["error"]["message"]
    assert wallets.transaction(user_id, reply.body["error"]["details"]["transaction_id"])["status"] == "FAILED"
    assert len(gateways.calls) == 1


def test_a_declined_stripe_card_is_a_4xx_and_the_deposit_failed(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ORDER", "stripe,razorpay")
    declined = {"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}
    gateways.add(responses.POST, f"{STRIPE}/payment_intents", status=402, json=declined)
    method_id = wallets.add_method(user_id, token="pm_card_visa", gateway="stripe")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (422, "GATEWAY_REFUSED")
    assert reply.body["error"]["details"]["gateway"] == "stripe"
    assert wallets.transaction(user_id, reply.body["error"]["details"]["transaction_id"])["status"] == "FAILED"
    assert [call.request.url.split("/v1/")[1] for call in gateways.calls] == ["payment_intents"]
    assert wallets.balance(user_id) == "0.00"


def _stripe_deposit(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, intent: str
) -> None:
    _stripe_intent(gateways, intent)
    method_id = wallets.add_method(user_id, token="pm_card_visa", gateway="stripe")
    wallets.initiate(user_id, method_id)
    succeeded = {
        "id": intent,
        "object": "payment_intent",
        "amount": 100050,
        "amount_received": 100050,
        "currency": "inr",
        "status": "succeeded",
        "latest_charge": f"ch_{intent}",
    }
    body, headers = stripe_webhook("payment_intent.succeeded", succeeded, f"evt_{intent}")
    assert (
        api.post("WebhookStripeFunction", "/webhooks/stripe", None, None, raw_body=body, headers=headers).body[
            "outcome"
        ]
        == "credited"
    )


def _dispute(api: InProcessApi, event: str, intent: str, status: str, event_id: str, amount: int = 100050) -> str:
    dispute = {
        "id": f"dp_{intent}",
        "object": "dispute",
        "charge": f"ch_{intent}",
        "payment_intent": intent,
        "amount": amount,
        "currency": "inr",
        "status": status,
    }
    body, headers = stripe_webhook(event, dispute, event_id)
    return api.post("WebhookStripeFunction", "/webhooks/stripe", None, None, raw_body=body, headers=headers).body[
        "outcome"
    ]


@pytest.mark.parametrize(("won", "balance"), [(True, "1000.50"), (False, "0.00")])
def test_a_chargeback_locks_the_amount_until_the_dispute_closes(
    gateways: responses.RequestsMock,
    wallets: Wallets,
    api: InProcessApi,
    user_id: str,
    monkeypatch: pytest.MonkeyPatch,
    won: bool,
    balance: str,
) -> None:
    monkeypatch.setenv("GATEWAY_ORDER", "stripe")
    intent = f"pi_dispute_{won}_{user_id}"
    _stripe_deposit(gateways, wallets, api, user_id, intent)
    assert _dispute(api, "charge.dispute.created", intent, "needs_response", f"evt_dc_{intent}") == "dispute_locked"
    assert _dispute(api, "charge.dispute.created", intent, "needs_response", f"evt_dc_{intent}") == "duplicate"
    locked = api.get("WalletBalanceFunction", "/api/v1/payments/wallet/balance", user_id).body
    assert (locked["locked_balance"], locked["available_balance"]) == ("1000.50", "0.00")
    outcome = _dispute(api, "charge.dispute.closed", intent, "won" if won else "lost", f"evt_close_{intent}")
    assert outcome == ("dispute_won" if won else "dispute_lost")
    assert _dispute(api, "charge.dispute.closed", intent, "won" if won else "lost", f"evt_again_{intent}") == (
        "already_applied"
    )
    final = api.get("WalletBalanceFunction", "/api/v1/payments/wallet/balance", user_id).body
    assert (final["balance"], final["locked_balance"]) == (balance, "0.00")


def test_a_chargeback_on_spent_money_records_the_shortfall_and_never_goes_negative(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction
    from payments.store.ledger_table import TransactionItem, txn_sk, user_pk

    monkeypatch.setenv("GATEWAY_ORDER", "stripe")
    intent = f"pi_spent_{user_id}"
    _stripe_deposit(gateways, wallets, api, user_id, intent)
    Ledger().debit(
        user_id, 60_050, NewTransaction("txn_spent", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED)
    )
    assert _dispute(api, "charge.dispute.created", intent, "needs_response", f"evt_s_{intent}") == "dispute_locked"
    chargeback = TransactionItem.get(user_pk(user_id), txn_sk(f"cb_dp_{intent}"))
    assert (chargeback.amount, chargeback.shortfall, chargeback.stage) == (40_000, 60_050, "REVIEW")
    _dispute(api, "charge.dispute.closed", intent, "lost", f"evt_sl_{intent}")
    final = api.get("WalletBalanceFunction", "/api/v1/payments/wallet/balance", user_id).body
    assert (final["balance"], final["available_balance"]) == ("0.00", "0.00")


def test_a_chargeback_on_a_fully_spent_wallet_is_recorded_once_with_its_shortfall(
    gateways: responses.RequestsMock, wallets: Wallets, api: InProcessApi, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction
    from payments.store.ledger_table import TransactionItem, txn_sk, user_pk

    monkeypatch.setenv("GATEWAY_ORDER", "stripe")
    intent = f"pi_empty_{user_id}"
    _stripe_deposit(gateways, wallets, api, user_id, intent)
    Ledger().debit(user_id, 100_050, NewTransaction("txn_all", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED))
    assert _dispute(api, "charge.dispute.created", intent, "needs_response", f"evt_e1_{intent}") == "dispute_locked"
    assert _dispute(api, "charge.dispute.created", intent, "needs_response", f"evt_e2_{intent}") == "already_applied"
    chargeback = TransactionItem.get(user_pk(user_id), txn_sk(f"cb_dp_{intent}"))
    assert (chargeback.amount, chargeback.shortfall, chargeback.stage) == (0, 100_050, "REVIEW")
    assert _dispute(api, "charge.dispute.closed", intent, "lost", f"evt_e3_{intent}") == "dispute_lost"
    final = api.get("WalletBalanceFunction", "/api/v1/payments/wallet/balance", user_id).body
    assert (final["balance"], final["locked_balance"], final["available_balance"]) == ("0.00", "0.00", "0.00")
