"""What only AWS would check, checked here: each function runs with its own role and its own
environment (local/iam.py, local/runtime.py), so a missing permission or variable fails the way it
would after ``sam deploy``. One test per defect of the "works on real AWS" review; the IAM model
itself is tested in tests/unit/test_local_iam.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from tests.integration.test_money_defects import RAZORPAY, _txn
from tests.support.api import Wallets
from tests.support.fixtures import Travel, run_job

API = "/api/v1/payments"


def _funded(user_id: str, minor: int = 100_000) -> None:
    Ledger().credit(
        user_id,
        minor,
        NewTransaction(f"fund_{user_id}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED, "INR"),
    )


def _initiate_withdrawal(wallets: Wallets, user_id: str, method_id: str, amount: str) -> Any:
    body = {"amount": amount, "payment_method_id": method_id}
    return wallets.api.post("WithdrawalInitiateFunction", f"{API}/withdrawals/initiate", user_id, body)


def test_1_a_deposit_initiation_may_read_the_history_its_fraud_screen_reads(
    wallets: Wallets, user_id: str, aws: Any
) -> None:
    """DepositInitiateFunction queries the by-time index (the fraud screen): without
    dynamodb:Query on that index every deposit initiation failed."""
    reply = wallets.initiate(user_id, wallets.add_method(user_id), "10.00")
    assert reply.status == 200, reply.body


def test_1_b_c_the_saga_steps_run_with_their_own_roles(
    wallets: Wallets, user_id: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RiskCheck had no policy at all, Release and Settle could not read the withdrawal: each
    step is invoked here as Step Functions would, with its role enforced."""
    from payments.flows import withdrawals

    monkeypatch.setattr(withdrawals, "_start", lambda item: True)  # the steps are driven below
    _funded(user_id)
    method_id = wallets.add_method(user_id, token="tok_mock_success", kind="BANK_TRANSFER")
    reply = _initiate_withdrawal(wallets, user_id, method_id, "200.00")
    assert reply.status in (200, 202), reply.body
    item = _txn(user_id, reply.body["withdrawal_id"])
    event = withdrawals.saga_input(item)

    risk = aws.runtime.invoke("WithdrawalRiskCheckFunction", event)
    assert risk["decision"] in ("allow", "review", "block")
    released = aws.runtime.invoke("WithdrawalReleaseFunction", {**event, "risk": {"decision": "block"}})
    assert released["released"] is True
    assert _txn(user_id, item.txn_id).status == "FAILED"


def test_1_d_a_withdrawal_to_a_razorpay_account_starts_with_the_credentials_in_the_secret(
    gateways: responses.RequestsMock, wallets: Wallets, user_id: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WithdrawalInitiateFunction had neither GATEWAY_SECRETS_ARN nor access to the secret: with
    the credentials where a deployment keeps them, no withdrawal to a real gateway could start."""
    from payments.flows import withdrawals

    monkeypatch.setattr(withdrawals, "_start", lambda item: True)
    monkeypatch.setenv("RAZORPAYX_ACCOUNT_NUMBER", "2323230000000000")
    _funded(user_id)
    method_id = wallets.add_method(user_id, token="fa_payout_1", gateway="razorpay", kind="BANK_TRANSFER")
    reply = _initiate_withdrawal(wallets, user_id, method_id, "200.00")
    assert reply.status in (200, 202), reply.body
    aws.runtime.invoke(
        "WithdrawalReleaseFunction",
        {**withdrawals.saga_input(_txn(user_id, reply.body["withdrawal_id"])), "risk": {"decision": "block"}},
    )
    assert not [call for call in gateways.calls if call.request.url.startswith(RAZORPAY)]


def test_1_f_a_denied_call_fails_like_aws(aws: Any, user_id: str) -> None:
    """The enforcement itself: the balance function may read the ledger, never write it."""
    import os

    import boto3
    from botocore.exceptions import ClientError

    from local import iam

    table, client = os.environ["LEDGER_TABLE_NAME"], boto3.client("dynamodb")
    key = {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "WALLET"}}
    token = iam.principal.set("WalletBalanceFunction")
    try:
        client.get_item(TableName=table, Key=key)
        with iam.denial_expected(), pytest.raises(ClientError, match="dynamodb:PutItem on resource: <LedgerTable>"):
            client.put_item(TableName=table, Item=key)
    finally:
        iam.principal.reset(token)


PAYOUTS = {
    "razorpay": ("fa_payout_1", f"{RAZORPAY}/payouts", "payout.processed"),
    "stripe": ("ba_payout_1", "https://api.stripe.com/v1/payouts", "payout.paid"),
}


@pytest.mark.parametrize("gateway", sorted(PAYOUTS))
def test_1_g_a_gateway_payout_webhook_resumes_the_waiting_saga(
    gateway: str,
    gateways: responses.RequestsMock,
    wallets: Wallets,
    user_id: str,
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole withdrawal on a real gateway, as deployed: the execution runs every step with
    its role, waits for the payout webhook, and the webhook function (its own role) resumes it."""
    from tests.integration.test_withdrawals_faults import _wait
    from tests.support.signing import razorpay_webhook, stripe_webhook

    monkeypatch.setenv("RAZORPAYX_ACCOUNT_NUMBER", "2323230000000000")
    monkeypatch.setenv("STRIPE_CURRENCY", "INR")
    token, url, event = PAYOUTS[gateway]
    _funded(user_id)
    method_id = wallets.add_method(user_id, token=token, gateway=gateway, kind="BANK_TRANSFER")
    payout: dict[str, Any] = {"id": f"pout_{user_id}", "amount": 20_000}

    def created(request: Any) -> tuple[int, dict[str, str], str]:
        if gateway == "razorpay":
            reference = json.loads(request.body)["reference_id"]
            payout.update(entity="payout", currency="INR", status="processing", reference_id=reference)
        else:
            reference = parse_qs(request.body)["metadata[reference]"][0]
            payout.update(object="payout", currency="inr", status="pending", metadata={"reference": reference})
        return 200, {}, json.dumps(payout)

    gateways.add_callback(responses.POST, url, callback=created)
    reply = _initiate_withdrawal(wallets, user_id, method_id, "200.00")
    assert reply.status == 202, reply.body
    withdrawal_id = reply.body["withdrawal_id"]
    waiting = _wait(wallets.api, user_id, withdrawal_id, lambda s: s["gateway_payout_id"] == payout["id"])
    assert (waiting["stage"], waiting["gateway_payout_id"]) == ("PAYOUT_REQUESTED", payout["id"]), waiting

    if gateway == "razorpay":
        body, headers = razorpay_webhook(event, "payout", {**payout, "status": "processed"}, f"evt_{user_id}")
    else:
        body, headers = stripe_webhook(event, {**payout, "status": "paid"}, f"evt_{user_id}")
    function = f"Webhook{gateway.capitalize()}Function"
    answer = wallets.api.post(function, f"/webhooks/{gateway}", None, None, raw_body=body, headers=headers)
    assert (answer.status, answer.body.get("outcome")) == (200, "resumed"), answer.body
    assert _wait(wallets.api, user_id, withdrawal_id)["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "800.00"


def test_1_h_a_decision_claimed_by_a_webhook_that_died_is_sent_by_the_recovery_job(
    wallets: Wallets, user_id: str, aws: Any, travel: Travel
) -> None:
    """RecoveryFunction's SendTaskSuccess grant, exercised: the payout webhook's function claimed
    the decision and died before handing it to the waiting execution."""
    from payments.core.clock import utcnow
    from payments.store.ledger_table import TransactionItem
    from tests.integration.test_withdrawals_faults import _funded as _paid_in
    from tests.integration.test_withdrawals_faults import _wait, _withdraw

    _paid_in(wallets, user_id)
    withdrawal_id = _withdraw(wallets.api, wallets, user_id, "tok_mock_payout_stuck")
    _wait(wallets.api, user_id, withdrawal_id, lambda s: s["stage"] == "PAYOUT_REQUESTED" and s["gateway_payout_id"])
    item = _txn(user_id, withdrawal_id)
    assert item.task_token
    decision = json.dumps({"outcome": "processed", "reason": None})
    TransactionItem(item.pk, item.sk).update(
        actions=[TransactionItem.task_claim.set(decision), TransactionItem.claimed_at.set(utcnow())]
    )
    travel.forward(timedelta(minutes=10))
    run_job(aws, "RecoveryFunction")
    assert _wait(wallets.api, user_id, withdrawal_id)["status"] == "COMPLETED"
    assert wallets.balance(user_id) == "800.00"


def test_6_a_money_from_the_public_mock_checkout_never_leaves_through_a_real_gateway(
    wallets: Wallets, user_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reproduced by the review: a wallet credited by pressing Pay on the Mock checkout withdrew
    900.00 through RazorpayX on a stack with both. A Mock stack's real gateways are off."""
    from tests.support.signing import GATEWAY_ENV

    for name, value in GATEWAY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RAZORPAYX_ACCOUNT_NUMBER", "2323230000000000")
    started = wallets.initiate(user_id, wallets.add_method(user_id), "1000.00").body
    wallets.pay(started["order_id"])
    assert wallets.balance(user_id) == "1000.00"
    method_id = wallets.add_method(user_id, token="fa_payout_1", gateway="razorpay", kind="BANK_TRANSFER")
    reply = _initiate_withdrawal(wallets, user_id, method_id, "900.00")
    assert (reply.status, reply.body["error"]["code"]) == (400, "GATEWAY_NOT_CONFIGURED")
    assert wallets.balance(user_id) == "1000.00"
