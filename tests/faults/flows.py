"""The money flows of the fault sweep, each as a client, a payer and an operator at the gateway
would drive it, and the checks every case must pass.

A flow has an unfaulted setup (a payment method, an opening balance, a funding deposit) and a
``drive`` step the harness calls every round: it makes the flow's next move once the previous one
has an answer, so the same flow recovers from a fault at any point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payments.gateways.mock_gateway import MockGateway, stable_id
from tests.faults.harness import ClientAction, Harness

API = "/api/v1/payments"
OPENING = 200_000  # 2,000.00 credited by an adjustment before a withdrawal flow


@dataclass
class Case:
    """One run of a flow: what it needs to remember between rounds."""

    user_id: str
    harness: Harness
    actions: list[ClientAction] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    opening: int = 0

    def request(self, name: str, function: str, path: str, body: dict[str, Any], **kwargs: Any) -> ClientAction:
        """A POST with its own Idempotency-Key, made once and retried until answered."""
        existing = next((action for action in self.actions if action.name == name), None)
        if existing is not None:
            return existing
        headers = {"Idempotency-Key": f"{name}-{self.user_id}"}
        api = self.harness.api
        action = ClientAction(name, lambda: api.post(function, path, self.user_id, body, headers=headers, **kwargs))
        self.actions.append(action)
        return action

    def answer(self, name: str) -> Any:
        action = next((action for action in self.actions if action.name == name), None)
        return None if action is None or action.answered is None else action.answered

    def once(self, name: str, move: Callable[[], Any]) -> Any:
        """A move of the payer or the operator: made once, when the flow reaches it."""
        if name not in self.state:
            self.state[name] = Harness.as_gateway(move)
        return self.state[name]


def mock() -> MockGateway:
    from payments.gateways import registry
    from payments.gateways.base import GatewayName

    return registry.build(GatewayName.MOCK)  # type: ignore[return-value]


@dataclass(frozen=True)
class Flow:
    name: str
    setup: Callable[[Case], None]
    drive: Callable[[Case], None]


# ---------------------------------------------------------------------------------------- helpers
def _add_method(case: Case, token: str, kind: str = "CARD") -> str:
    reply = case.harness.api.post(
        "MethodsCreateFunction", f"{API}/methods", case.user_id, {"type": kind, "gateway": "mock", "token": token}
    )
    assert reply.status == 200, reply.body
    return str(reply.body["payment_method"]["id"])


def _deposit(case: Case, prefix: str, method: str, amount: str, confirm: bool) -> None:
    """Initiate; the payer pays on the order the client got; the client confirms (if asked to)."""
    started = case.request(
        f"{prefix}initiate",
        "DepositInitiateFunction",
        f"{API}/deposits/initiate",
        {"amount": amount, "payment_method_id": method},
    )
    reply = case.answer(started.name)
    if reply is None or reply.status != 200:
        return
    paid = case.once(f"{prefix}paid", lambda: mock().pay(reply.body["order_id"]))
    if confirm and paid.get("signature"):
        case.request(
            f"{prefix}confirm",
            "DepositConfirmFunction",
            f"{API}/deposits/confirm",
            {
                "transaction_id": reply.body["transaction_id"],
                "gateway_payment_id": paid["payment_id"],
                "gateway_data": {"mock_order_id": paid["order_id"], "mock_signature": paid["signature"]},
            },
        )


def _funded(case: Case) -> None:
    """A deposit of 1,000.00 paid and credited before the flow starts (no faults)."""
    method = _add_method(case, "tok_mock_success")
    case.harness.run(case.actions, case.user_id, lambda: _deposit(case, "fund_", method, "1000.00", confirm=False))
    reply = case.answer("fund_initiate")
    assert "fund_paid" in case.state, f"the funding deposit did not go through: {reply and reply.body}"
    case.state["funding_payment"] = case.state["fund_paid"]["payment_id"]


def _opening_balance(case: Case) -> None:
    from payments.ledger.types import TransactionStatus, TransactionType
    from payments.ledger.writer import Ledger, NewTransaction

    change = NewTransaction(f"open_{case.user_id}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED)
    Ledger().credit(case.user_id, OPENING, change)
    case.opening = OPENING


# ------------------------------------------------------------------------------------------ flows
def _deposit_flow(token: str, confirm: bool) -> Flow:
    def setup(case: Case) -> None:
        case.state["method"] = _add_method(case, token)

    def drive(case: Case) -> None:
        _deposit(case, "", case.state["method"], "1000.00", confirm)

    return Flow("", setup, drive)


def _refund_flow(fails_later: bool) -> Flow:
    def drive(case: Case) -> None:
        deposit_id = case.answer("fund_initiate").body["transaction_id"]
        body = {"transaction_id": deposit_id, "amount": "400.00"}
        refunded = case.request("refund", "RefundCreateFunction", f"{API}/refunds", body)
        reply = case.answer(refunded.name)
        if fails_later and reply is not None and reply.status == 200:
            refund_id = stable_id("rfnd_mock", reply.body["refund_id"])
            record = mock()._find(refund_id)
            if record is not None and record.status == "PROCESSED":
                case.once("refund_failed", lambda: mock().fail_refund(refund_id))

    return Flow("", _funded, drive)


def _chargeback_flow(won: bool) -> Flow:
    def drive(case: Case) -> None:
        payment = case.state["funding_payment"]
        dispute = case.once("dispute", lambda: mock().open_dispute(payment))
        opened = case.state.setdefault("dispute_opened_at", case.harness.clock.now)
        if (case.harness.clock.now - opened).days >= 1:
            case.once("dispute_closed", lambda: mock().close_dispute(dispute, won))

    return Flow("", _funded, drive)


def _withdrawal_flow(token: str, reversed_later: bool = False, approval: bool = False) -> Flow:
    def setup(case: Case) -> None:
        _opening_balance(case)
        case.state["method"] = _add_method(case, token, "BANK_TRANSFER")

    def drive(case: Case) -> None:
        started = case.request(
            "withdraw",
            "WithdrawalInitiateFunction",
            f"{API}/withdrawals/initiate",
            {"amount": "500.00", "payment_method_id": case.state["method"]},
        )
        reply = case.answer(started.name)
        if reply is None or reply.status != 202:
            return
        withdrawal = _withdrawal(case.user_id, reply.body["withdrawal_id"])
        if approval and withdrawal.stage == "AWAITING_APPROVAL" and withdrawal.task_token:
            path = f"{API}/admin/withdrawals/{withdrawal.txn_id}/approve"
            case.request(
                "approve",
                "AdminWithdrawalDecisionFunction",
                path,
                {},
                roles="user,admin",
                path_params={"withdrawal_id": withdrawal.txn_id, "decision": "approve"},
            )
        payout_id = stable_id("pout_mock", withdrawal.txn_id)
        if reversed_later and withdrawal.status == "COMPLETED":
            record = mock()._find(payout_id)
            if record is not None and record.status == "PROCESSED":
                case.once("payout_reversed", lambda: mock().reverse_payout(payout_id))

    return Flow("", setup, drive)


def _withdrawal(user_id: str, withdrawal_id: str) -> Any:
    from payments.store.ledger_table import TransactionItem, txn_sk, user_pk

    return TransactionItem.get(user_pk(user_id), txn_sk(withdrawal_id), consistent_read=True)


def _named(name: str, flow: Flow) -> Flow:
    return Flow(name, flow.setup, flow.drive)


FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (
        _named("deposit_by_confirm", _deposit_flow("tok_mock_no_webhook", confirm=True)),
        _named("deposit_by_webhook", _deposit_flow("tok_mock_success", confirm=False)),
        _named("deposit_by_sweeper", _deposit_flow("tok_mock_no_webhook", confirm=False)),
        _named("deposit_declined", _deposit_flow("tok_mock_decline", confirm=False)),
        _named("refund", _refund_flow(fails_later=False)),
        _named("refund_failing_later", _refund_flow(fails_later=True)),
        _named("chargeback_won", _chargeback_flow(won=True)),
        _named("chargeback_lost", _chargeback_flow(won=False)),
        _named("withdrawal_paid", _withdrawal_flow("tok_mock_success")),
        _named("withdrawal_failed", _withdrawal_flow("tok_mock_payout_fail")),
        _named("withdrawal_reversed", _withdrawal_flow("tok_mock_success", reversed_later=True)),
        _named("withdrawal_admin_approval", _withdrawal_flow("tok_mock_success", approval=True)),
    )
}


# ----------------------------------------------------------------------------------------- checks
#: Which client request creates which kind of transaction, once per Idempotency-Key.
_CREATED_BY = {"DEPOSIT": "initiate", "REFUND": "refund", "WITHDRAWAL": "withdraw"}


def _once_per_request(case: Case) -> list[str]:
    """Each request (one Idempotency-Key) made at most one operation, however often it was sent:
    money moved twice in step on both sides still breaks this."""
    from payments.store.ledger_table import TransactionItem, user_pk

    made: dict[str, int] = {}
    for item in TransactionItem.query(user_pk(case.user_id), TransactionItem.sk.startswith("TXN#")):
        if item.type == "REFUND" and item.wallet_debited is False:
            continue  # a late payment sent back: the gateway's doing, not a client's request
        made[item.type] = made.get(item.type, 0) + 1
    found = []
    for kind, action in _CREATED_BY.items():
        asked = sum(1 for request in case.actions if request.name.endswith(action))
        if made.get(kind, 0) > asked:
            found.append(f"{made[kind]} {kind.lower()}s made for {asked} request(s)")
    return found


def gateway_net(harness: Harness, user_id: str) -> int:
    """What the Mock gateway really did for this customer, in minor units: captured payments, less
    processed refunds, payouts that stayed paid and disputes lost."""
    from payments.store.ops_table import MockGatewayItem

    net = 0
    for key in harness.mock_objects:
        item = MockGatewayItem.get(key, consistent_read=True)
        if item.customer != user_id:
            continue
        if (item.kind, item.status) == ("PAYMENT", "CAPTURED"):
            net += item.amount
        elif (item.kind, item.status) in (("REFUND", "PROCESSED"), ("PAYOUT", "PROCESSED"), ("DISPUTE", "LOST")):
            net -= item.amount
    return net


def problems(case: Case) -> list[str]:
    """Everything that must hold once the world has recovered from the fault."""
    from payments.audit.verify import entries_without_records
    from payments.core.caller import KycLevel
    from payments.kyc.tiers import day_period, limits_for, month_period
    from payments.ledger.reconciliation import reconcile_user
    from payments.store.ledger_table import TransactionItem, current_wallet, user_pk

    harness, user_id = case.harness, case.user_id
    found = [f"ledger: {problem}" for problem in reconcile_user(user_id)]
    found += [f"audit: {problem}" for problem in entries_without_records(user_pk(user_id))]
    wallet = current_wallet(user_id)
    expected = case.opening + gateway_net(harness, user_id)
    if wallet.balance != expected:
        found.append(f"wallet holds {wallet.balance}, the gateway says {expected}")
    if wallet.locked:
        found.append(f"{wallet.locked} still locked")
    in_flight = [item.txn_id for item in TransactionItem.query(user_pk(user_id)) if item.gsi2pk]
    if in_flight:
        found.append(f"still in flight: {in_flight}")
    running = [e.name for e in harness.sfn.waiting() if e.input["withdrawal"]["user_id"] == user_id]
    if running:
        found.append(f"sagas still running: {running}")
    if harness.outbox:
        found.append(f"webhooks never accepted: {[webhook.event for webhook in harness.outbox]}")
    unanswered = [action.name for action in case.actions if action.answered is None]
    if unanswered:
        found.append(f"client requests never answered: {unanswered}")
    found += _once_per_request(case)
    found += [f"events: {problem}" for problem in harness.events.problems(user_id)]
    tier = limits_for(KycLevel.BASIC)
    now = harness.clock.now
    if wallet.daily_period == day_period(now) and wallet.daily_used > tier.daily_limit:
        found.append(f"daily usage {wallet.daily_used} over {tier.daily_limit}")
    if wallet.monthly_period == month_period(now) and wallet.monthly_used > tier.monthly_limit:
        found.append(f"monthly usage {wallet.monthly_used} over {tier.monthly_limit}")
    return found
