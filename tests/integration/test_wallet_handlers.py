"""Handlers called with their events/ samples, in-process, against moto."""

import json
from typing import Any

import pytest

from local import iam
from payments.core.clock import utcnow
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from payments.store.ledger_table import TransactionItem, txn_sk, user_pk
from tests.support.fixtures import load_event

SPEC_BALANCE_FIELDS = {
    "balance",
    "locked_balance",
    "available_balance",
    "daily_limit",
    "daily_used",
    "daily_remaining",
    "monthly_limit",
    "monthly_used",
    "monthly_remaining",
}


def _call(aws: Any, function: str, event: dict) -> tuple[int, dict]:
    response = aws.runtime.invoke(function, event)
    return response["statusCode"], json.loads(response["body"])


def _seed(user_id: str, *entries: tuple[str, TransactionType, TransactionStatus, int]) -> None:
    """Completed transactions credit the wallet; failed ones are only recorded (no money moved)."""
    ledger = Ledger()
    for txn_id, kind, status, amount in entries:
        if status == TransactionStatus.COMPLETED:
            ledger.credit(user_id, amount, NewTransaction(txn_id, kind, status, description=f"seed {txn_id}"))
            continue
        now = utcnow()
        TransactionItem(
            user_pk(user_id),
            txn_sk(txn_id),
            txn_id=txn_id,
            user_id=user_id,
            type=str(kind),
            status=str(status),
            amount=amount,
            description=f"seed {txn_id}",
            created_at=now,
            updated_at=now,
        ).save()


def test_balance_of_a_new_user_is_zero_with_basic_limits(aws: Any, user_id: str) -> None:
    status, body = _call(aws, "WalletBalanceFunction", load_event("wallet_balance", user_id))
    assert status == 200
    assert body.keys() >= SPEC_BALANCE_FIELDS
    assert body["balance"] == "0.00"
    assert body["daily_limit"] == "10000.00"
    assert body["monthly_remaining"] == "100000.00"


def test_balance_shows_credits_and_the_callers_tier(aws: Any, user_id: str) -> None:
    _seed(user_id, ("txn_1", TransactionType.DEPOSIT, TransactionStatus.COMPLETED, 150_000))
    event = load_event("wallet_balance", user_id)
    event["requestContext"]["authorizer"]["kyc_level"] = "ADVANCED"
    status, body = _call(aws, "WalletBalanceFunction", event)
    assert status == 200
    assert (body["balance"], body["available_balance"], body["locked_balance"]) == (
        "1500.00",
        "1500.00",
        "0.00",
    )
    assert body["daily_limit"] == "500000.00"


def test_without_authorizer_context_the_handler_refuses(aws: Any) -> None:
    event = load_event("wallet_balance")
    del event["requestContext"]["authorizer"]
    status, body = _call(aws, "WalletBalanceFunction", event)
    assert status == 401
    assert body["error"]["code"] == "UNAUTHORIZED"


def test_transactions_newest_first_with_filters_and_total(aws: Any, user_id: str) -> None:
    done, failed = TransactionStatus.COMPLETED, TransactionStatus.FAILED
    _seed(
        user_id,
        ("txn_01", TransactionType.DEPOSIT, done, 100),
        ("txn_02", TransactionType.ADJUSTMENT, done, 200),
        ("txn_03", TransactionType.DEPOSIT, failed, 300),
        ("txn_04", TransactionType.DEPOSIT, done, 400),
    )
    status, body = _call(aws, "WalletTransactionsFunction", load_event("wallet_transactions", user_id))
    assert status == 200
    assert [txn["id"] for txn in body["transactions"]] == ["txn_04", "txn_01"]
    assert body["total"] == 2
    assert body["has_more"] is False
    first = body["transactions"][0]
    assert first == first | {
        "amount": "4.00",
        "type": "DEPOSIT",
        "status": "COMPLETED",
        "description": "seed txn_04",
    }
    assert first["created_at"].endswith("Z")


def test_transactions_paging_by_skip_and_by_cursor(aws: Any, user_id: str) -> None:
    _seed(
        user_id,
        *[(f"txn_{n:02d}", TransactionType.DEPOSIT, TransactionStatus.COMPLETED, n) for n in range(1, 8)],
    )

    def page(**query: str) -> dict:
        event = load_event("wallet_transactions", user_id, query=query)
        status, body = _call(aws, "WalletTransactionsFunction", event)
        assert status == 200, body
        return body

    first = page(limit="3")
    assert [t["id"] for t in first["transactions"]] == ["txn_07", "txn_06", "txn_05"]
    assert (first["total"], first["has_more"]) == (7, True)
    assert [t["id"] for t in page(limit="3", skip="3")["transactions"]] == ["txn_04", "txn_03", "txn_02"]
    second = page(limit="3", cursor=first["next_cursor"])
    assert [t["id"] for t in second["transactions"]] == ["txn_04", "txn_03", "txn_02"]
    last = page(limit="3", cursor=second["next_cursor"])
    assert [t["id"] for t in last["transactions"]] == ["txn_01"]
    assert (last["has_more"], last["next_cursor"], last["total"]) == (False, None, 7)


def test_history_is_scoped_to_the_caller(aws: Any, user_id: str) -> None:
    _seed(user_id, ("txn_mine", TransactionType.DEPOSIT, TransactionStatus.COMPLETED, 100))
    _seed("someone_else", ("txn_theirs", TransactionType.DEPOSIT, TransactionStatus.COMPLETED, 100))
    event = load_event("wallet_transactions", user_id, query=None)
    _, body = _call(aws, "WalletTransactionsFunction", event)
    assert [t["id"] for t in body["transactions"]] == ["txn_mine"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"skip": "-1"}, "skip"),
        ({"limit": "ten"}, "limit"),
        ({"type": "BRIBE"}, "type"),
        ({"status": "DONE"}, "status"),
    ],
)
def test_bad_query_parameters_are_422_naming_the_field(aws: Any, user_id: str, query: dict, field: str) -> None:
    status, body = _call(aws, "WalletTransactionsFunction", load_event("wallet_transactions", user_id, query=query))
    assert status == 422
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"] == {"field": field}
    assert body["error"]["message"].startswith(f"{field} ")


@pytest.mark.parametrize("cursor", ["garbage", "eyJzayI6ICJXQUxMRVQifQ", "eyJwayI6ICJVU0VSI3gifQ"])
def test_forged_cursors_are_400(aws: Any, user_id: str, cursor: str) -> None:
    event = load_event("wallet_transactions", user_id, query={"cursor": cursor})
    status, body = _call(aws, "WalletTransactionsFunction", event)
    assert status == 400
    assert body["error"] == {
        "code": "VALIDATION_ERROR",
        "message": "cursor is not valid",
        "details": {"field": "cursor"},
    }


def test_health_reports_the_database_and_the_gateways(aws: Any) -> None:
    """On a Mock stack: the Mock configured with its circuit closed, the real gateways off."""
    status, body = _call(aws, "HealthFunction", load_event("health"))
    assert status == 200
    assert body["status"] == "healthy"
    assert body["database"]["status"] == "healthy"
    assert body.keys() == {"status", "timestamp", "version", "database", "gateways"}
    assert body["gateways"]["mock"] == {
        "configured": True,
        "circuit": "closed",
        "open_until": None,
        "consecutive_failures": 0,
        "last_failure_at": None,
    }
    assert body["gateways"]["razorpay"] == body["gateways"]["stripe"] == {"configured": False}


def test_health_is_degraded_while_a_gateway_circuit_is_open(aws: Any, gateways: Any) -> None:
    """With real gateways (credentials in the stack's secret, read with the function's role), a
    gateway whose circuit opened makes the service degraded (200: deposits fail over), with the
    time of its last failure; no gateway is called by the probe (gateways fixture: none stubbed)."""
    from payments.gateways import circuit

    status, body = _call(aws, "HealthFunction", load_event("health"))
    assert (status, body["status"]) == (200, "healthy")
    assert body["gateways"]["razorpay"]["configured"] is body["gateways"]["stripe"]["configured"] is True
    for _ in range(3):  # CIRCUIT_FAILURE_THRESHOLD
        circuit.record_failure("razorpay")
    status, body = _call(aws, "HealthFunction", load_event("health"))
    assert (status, body["status"]) == (200, "degraded")
    razorpay = body["gateways"]["razorpay"]
    assert (razorpay["circuit"], razorpay["consecutive_failures"]) == ("open", 0)
    assert razorpay["open_until"].endswith("Z")
    assert razorpay["last_failure_at"].endswith("Z")
    assert body["gateways"]["stripe"]["circuit"] == "closed"
    assert not gateways.calls


def test_health_is_503_when_the_table_is_unreadable(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from payments.store.ledger_table import WalletItem

    monkeypatch.setattr(WalletItem.Meta, "table_name", "no-such-table")
    monkeypatch.setattr(WalletItem, "_connection", None)
    with iam.denial_expected():  # its role reads the ledger only: AWS would refuse this table too
        status, body = _call(aws, "HealthFunction", load_event("health"))
    assert status == 503
    assert body["database"]["status"] == "unhealthy"
