"""Payment methods: gateway tokens only, sealed with KMS per user, masked, owned by their user."""

import json
from typing import Any

import boto3
import pytest

from payments.platform import crypto
from payments.store.ledger_table import METHOD_PREFIX, PaymentMethodItem, user_pk
from tests.support.api import METHODS, InProcessApi, Wallets
from tests.support.invariants import text_findings

VISA = "4111111111111111"


def _add(api: InProcessApi, user_id: str, body: Any = None, raw: str | None = None) -> Any:
    return api.post("MethodsCreateFunction", METHODS, user_id, body, raw_body=raw)


def test_a_token_is_stored_sealed_and_shown_masked(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    method_id = wallets.add_method(user_id, token="tok_mock_success")
    listed = api.get("MethodsListFunction", METHODS, user_id).body["payment_methods"]
    assert listed == [listed[0] | {"id": method_id, "masked_number": "****-****-****-4242", "brand": "VISA"}]
    assert "token" not in listed[0]
    item = PaymentMethodItem.get(user_pk(user_id), f"{METHOD_PREFIX}{method_id}")
    assert "tok_mock_success" not in item.token_envelope
    assert crypto.decrypt(item.token_envelope, user_id) == "tok_mock_success"


def test_the_envelope_does_not_open_for_another_user(wallets: Wallets, user_id: str) -> None:
    method_id = wallets.add_method(user_id)
    item = PaymentMethodItem.get(user_pk(user_id), f"{METHOD_PREFIX}{method_id}")
    with pytest.raises(boto3.client("kms").exceptions.InvalidCiphertextException):
        crypto.decrypt(item.token_envelope, "someone_else")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "CARD", "gateway": "razorpay", "token": VISA},
        {"type": "CARD", "gateway": "razorpay", "token": "tok_x", "metadata": {"label": "4111 1111 1111 1111"}},
        {"type": "CARD", "gateway": "razorpay", "token": "tok_x", "card_number": "4111-1111-1111-1111"},
        {"type": "CARD", "gateway": "razorpay", "token": "tok_x", "cvv": "123"},
        {"type": "CARD", "gateway": "razorpay", "token": "tok_x", "metadata": {"cvc": "999"}},
    ],
    ids=["pan-as-token", "pan-in-metadata", "pan-field", "cvv", "cvc-in-metadata"],
)
def test_card_data_is_refused_and_never_stored_or_logged(
    api: InProcessApi, user_id: str, body: dict, capfd: pytest.CaptureFixture[str]
) -> None:
    reply = _add(api, user_id, body)
    assert (reply.status, reply.body["error"]["code"]) == (400, "CARD_DATA_REFUSED")
    assert VISA not in json.dumps(reply.body)
    assert api.get("MethodsListFunction", METHODS, user_id).body["payment_methods"] == []
    out, err = capfd.readouterr()
    assert text_findings(out + err) == []


def test_malformed_methods_are_422_naming_the_field(api: InProcessApi, user_id: str) -> None:
    reply = _add(api, user_id, {"type": "CHEQUE", "gateway": "razorpay", "token": "tok_abc"})
    assert (reply.status, reply.body["error"]["details"]) == (422, {"field": "type"})
    reply = _add(
        api, user_id, {"type": "CARD", "gateway": "razorpay", "token": "tok_abc", "metadata": {"expiry_month": 13}}
    )
    assert (reply.status, reply.body["error"]["details"]) == (422, {"field": "metadata.expiry_month"})
    assert _add(api, user_id, raw="{not json").status == 400


def test_unsupported_method_for_the_gateway_is_refused(api: InProcessApi, user_id: str) -> None:
    reply = _add(api, user_id, {"type": "UPI", "gateway": "stripe", "token": "pm_upi"})
    assert (reply.status, reply.body["error"]["message"]) == (400, "stripe does not support UPI")


def test_methods_belong_to_their_user(wallets: Wallets, api: InProcessApi, user_id: str) -> None:
    method_id = wallets.add_method(user_id)
    path = f"{METHODS}/{method_id}"
    other = api.call("MethodsDeleteFunction", "DELETE", path, "mallory", path_params={"method_id": method_id})
    assert (other.status, other.body["error"]["code"]) == (404, "PAY_003")
    assert api.get("MethodsListFunction", METHODS, "mallory").body["payment_methods"] == []
    mine = api.call("MethodsDeleteFunction", "DELETE", path, user_id, path_params={"method_id": method_id})
    assert mine.status == 200
    assert api.get("MethodsListFunction", METHODS, user_id).body["payment_methods"] == []
    again = api.call("MethodsDeleteFunction", "DELETE", path, user_id, path_params={"method_id": method_id})
    assert again.status == 404
    assert wallets.initiate(user_id, method_id).body["error"]["code"] == "PAY_003"


def test_unknown_mock_tokens_are_refused_at_deposit_time(wallets: Wallets, user_id: str) -> None:
    method_id = wallets.add_method(user_id, token="tok_mock_unheard_of")
    reply = wallets.initiate(user_id, method_id)
    assert (reply.status, reply.body["error"]["code"]) == (422, "GATEWAY_REFUSED")
    assert reply.body["error"]["details"]["gateway"] == "mock"
    assert wallets.transaction(user_id, reply.body["error"]["details"]["transaction_id"])["status"] == "FAILED"


def test_a_base64_encoded_body_is_read_as_api_gateway_sends_binary_ones(api: InProcessApi, user_id: str) -> None:
    body = {"type": "CARD", "gateway": "mock", "token": "tok_mock_success", "metadata": {"last_four": "4242"}}
    reply = api.post("MethodsCreateFunction", "/api/v1/payments/methods", user_id, body, base64_body=True)
    assert reply.status == 200, reply.body
    assert reply.body["payment_method"]["last_four"] == "4242"
    garbage = api.post(
        "MethodsCreateFunction",
        "/api/v1/payments/methods",
        user_id,
        None,
        raw_body=b'{"token": "\xff"}',
        base64_body=True,
    )
    assert (garbage.status, garbage.body["error"]["message"]) == (400, "The body must be UTF-8 text")
