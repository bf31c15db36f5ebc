"""The Python client (clients/python) against the local stack, as a product team's backend uses
it: Decimal amounts end to end, typed errors (GATEWAY_NOT_CONFIGURED included), and a POST whose
answer was lost retried under the same key without moving money twice."""

from decimal import Decimal
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from payments_client import PaymentClient, errors
from tests.support.fixtures import LocalStack, make_token


@pytest.fixture
def client(local_stack: LocalStack, user_id: str) -> PaymentClient:
    return PaymentClient(local_stack.api, make_token(user_id), backoff_s=0.05)


def _pay(local_stack: LocalStack, order_id: str) -> dict[str, Any]:
    paid = requests.post(f"{local_stack.api}/mock-gateway/checkout/{order_id}/pay", json={"action": "pay"}, timeout=30)
    assert paid.status_code == 200, paid.text
    return paid.json()


def test_a_deposit_with_decimal_amounts_end_to_end(local_stack: LocalStack, client: PaymentClient) -> None:
    method = client.add_payment_method("CARD", "mock", "tok_mock_success", {"last_four": "4242", "brand": "visa"})
    assert method.masked_number == "****-****-****-4242"
    started = client.initiate_deposit(Decimal("1000.50"), method.id, description="top-up")
    assert (started.amount, started.gateway) == (Decimal("1000.50"), "MOCK")
    paid = _pay(local_stack, started.order_id)
    confirmed = client.confirm_deposit(
        started.transaction_id,
        paid["payment_id"],
        {"mock_order_id": started.order_id, "mock_signature": paid["signature"]},
    )
    assert (confirmed.status, confirmed.amount) == ("COMPLETED", Decimal("1000.50"))
    balance = client.get_wallet_balance()
    assert (balance.balance, balance.available_balance, balance.locked_balance) == (
        Decimal("1000.50"),
        Decimal("1000.50"),
        Decimal("0.00"),
    )
    page = client.get_transactions(type="DEPOSIT")
    assert [(txn.id, txn.amount, txn.status) for txn in page.transactions] == [
        (started.transaction_id, Decimal("1000.50"), "COMPLETED")
    ]
    assert [m.id for m in client.list_payment_methods()] == [method.id]


def test_errors_arrive_as_their_classes(client: PaymentClient) -> None:
    razorpay = client.add_payment_method("CARD", "razorpay", "token_RZP_card", {"last_four": "1111"})
    with pytest.raises(errors.GatewayNotConfigured) as not_here:
        client.initiate_deposit(Decimal("10.00"), razorpay.id)
    assert (not_here.value.status, not_here.value.details) == (400, {"gateway": "razorpay"})
    assert not_here.value.request_id
    with pytest.raises(errors.PaymentMethodNotFound):
        client.initiate_deposit(Decimal("10.00"), "pm_not_mine")
    bank = client.add_payment_method("BANK_TRANSFER", "mock", "tok_mock_payout_success", {"last_four": "6789"})
    with pytest.raises(errors.InsufficientBalance) as short:
        client.initiate_withdrawal(Decimal("5000.00"), bank.id)
    assert short.value.status == 402
    card = client.add_payment_method("CARD", "mock", "tok_mock_success")
    with pytest.raises(errors.InvalidAmount):
        client.initiate_deposit("10.001", card.id)
    with pytest.raises(errors.Unauthorized):
        PaymentClient(client.base_url, "not-a-jwt").get_wallet_balance()


class _AnswerLostOnce(HTTPAdapter):
    """Sends the first POST to the API for real, then loses its answer (a reset on the way back)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if request.method == "POST" and self.lost == 0:
            self.lost += 1
            raise requests.ConnectionError("connection reset after the request was sent")
        return response


def test_a_post_whose_answer_was_lost_is_retried_under_its_key_and_applied_once(
    local_stack: LocalStack, user_id: str
) -> None:
    session = requests.Session()
    lossy = _AnswerLostOnce()
    session.mount("http://", lossy)
    client = PaymentClient(local_stack.api, make_token(user_id), session=session, backoff_s=0.05)
    method = PaymentClient(local_stack.api, make_token(user_id)).add_payment_method("CARD", "mock", "tok_mock_success")
    started = client.initiate_deposit(Decimal("250.00"), method.id)
    assert lossy.lost == 1
    deposits = client.get_transactions(type="DEPOSIT").transactions
    assert [txn.id for txn in deposits] == [started.transaction_id]
