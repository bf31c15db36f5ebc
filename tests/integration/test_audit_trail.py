"""The audit trail as deployed (each function under its own role): every money movement has its
record written with it, records carry the actor, the chainer links them and anchors the heads,
and the verifier finds every kind of tampering - a changed field, a deleted, reordered or
inserted record, a chain rewritten whole after its anchor, a ledger entry without its record.

Tampering tests change only their own user's chain and assert only about it: the chains of the
rest of the session stay as they are."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.runtime import FunctionError
from payments.audit import anchors, chain, records, verify
from payments.core.clock import Deadline, utcnow
from payments.core.errors import InsufficientBalance
from payments.ledger.errors import AlreadyApplied
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction, StatusChange
from payments.store.audit_table import HEAD_SK, AuditHeadItem, AuditRecordItem, entry_record_sk
from payments.store.ledger_table import entry_sk, user_pk
from tests.support.api import METHODS, InProcessApi, Wallets
from tests.support.fixtures import Travel, run_job, unique_id
from tests.support.invariants import text_findings

AUDIT_TABLE = "payments-test-audit"


@pytest.fixture
def anchor_group(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The anchor log group of the deployed stack, for the verifier run in-process."""
    group = aws.stack.physical["AuditAnchorLogGroup"]
    monkeypatch.setenv("AUDIT_ANCHOR_LOG_GROUP", group)
    return group


def _chain(user_id: str) -> list[AuditRecordItem]:
    """The user's records, chained or not, in chain order (unchained last)."""
    items = list(AuditRecordItem.query(user_pk(user_id), AuditRecordItem.sk.startswith("E#")))
    items += list(AuditRecordItem.query(user_pk(user_id), AuditRecordItem.sk.startswith("R#")))
    return sorted(items, key=lambda item: (item.seq is None, item.seq or 0, item.timestamp))


def _deposit(wallets: Wallets, user_id: str, amount: str = "1000.50") -> str:
    method_id = wallets.add_method(user_id)
    started = wallets.initiate(user_id, method_id, amount)
    assert started.status == 200, started.body
    wallets.pay(started.body["order_id"])  # the Mock's webhook credits
    assert wallets.balance(user_id) == amount
    return started.body["transaction_id"]


def _funded(user_id: str, minor: int, txn: str = "") -> str:
    txn_id = txn or f"adj_{user_id}_{minor}"
    Ledger().credit(
        user_id, minor, NewTransaction(txn_id, TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED, "INR")
    )
    return txn_id


def _chained(aws: Any) -> dict[str, Any]:
    return run_job(aws, "AuditChainFunction")


def _walk(user_id: str) -> tuple[int, str | None]:
    chain = user_pk(user_id)
    return verify.walk(chain, anchors.every().get(chain))


@pytest.fixture
def only_chains(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Restrict a whole verification to some chains: the session's table holds every other test's
    chains, and walking them all in every such test made the suite quadratic. The real listing
    (its scans, under the function's role) still runs."""

    def restrict(*chains: str) -> None:
        real = verify._chains_to_walk
        monkeypatch.setattr(verify, "_chains_to_walk", lambda anchored: [c for c in real(anchored) if c in chains])

    return restrict


def _raw() -> Any:
    return boto3.client("dynamodb")


# ---------------------------------------------------------------- what is recorded, and by whom
def test_a_deposit_is_audited_with_the_spec_fields_and_its_actors(
    wallets: Wallets, user_id: str, aws: Any, anchor_group: str
) -> None:
    txn_id = _deposit(wallets, user_id)
    found = {(item.event_type, item.sk.split("#")[0]): item for item in _chain(user_id)}
    added = found[("payment_method_added", "R")]
    initiated = found[("deposit_initiated", "R")]
    completed = found[("deposit_completed", "E")]
    assert completed.sk == entry_record_sk(txn_id, "CREDIT")
    assert (completed.user_id, completed.transaction_id, completed.amount, completed.currency) == (
        user_id,
        txn_id,
        100050,
        "INR",
    )
    assert (completed.gateway, completed.operation, completed.status) == ("mock", "CREDIT", "COMPLETED")
    assert completed.actor == "gateway:mock"  # the Mock's webhook credited it
    assert initiated.actor == added.actor == f"user:{user_id}"
    assert initiated.ip_address  # the client's address, from API Gateway's identity
    assert (initiated.transaction_id, initiated.amount) == (txn_id, 100050)
    for item in (added, initiated, completed):
        assert item.audit_hash == records.record_hash(records.fields_of(item))
        assert item.seq is None  # waiting for the chainer
        assert item.pending
        assert text_findings(json.dumps(item.attribute_values, default=str)) == []
    assert "tok_mock" not in json.dumps([item.attribute_values for item in found.values()], default=str)


def test_a_refused_write_leaves_no_record_and_a_replay_leaves_one(aws: Any, user_id: str) -> None:
    txn_id = _funded(user_id, 10_000)
    change = NewTransaction(f"wd_{user_id}", TransactionType.WITHDRAWAL, TransactionStatus.PROCESSING, "INR")
    with pytest.raises(InsufficientBalance):
        Ledger().lock(user_id, 50_000, change)
    with pytest.raises(AlreadyApplied):
        Ledger().credit(
            user_id,
            10_000,
            StatusChange(txn_id, (TransactionStatus.COMPLETED,), TransactionStatus.COMPLETED, currency="INR"),
        )
    assert [(item.event_type, item.sk) for item in _chain(user_id)] == [
        ("adjustment_completed", entry_record_sk(txn_id, "CREDIT"))
    ]


def test_a_movement_whose_audit_write_fails_moves_no_money(aws: Any, user_id: str) -> None:
    """The audit record is part of the movement's transaction: when its Put is refused (here a
    record already holding its key), the credit, its entry and its transaction record are not
    written either."""
    from payments.core.errors import LedgerConflict
    from payments.store.ledger_table import TransactionItem, current_wallet, txn_sk

    txn_id = f"adj_{user_id}_blocked"
    squatter = records.for_entry(
        "forged",
        user_id=user_id,
        txn_id=txn_id,
        kind="CREDIT",
        amount=1,
        currency="INR",
        gateway=None,
        status=None,
        details=None,
        at=utcnow(),
    )
    records.write(squatter)
    change = NewTransaction(txn_id, TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED, "INR")
    with pytest.raises(LedgerConflict):
        Ledger().credit(user_id, 10_000, change)
    wallet = current_wallet(user_id)
    assert (wallet.balance, wallet.available) == (0, 0)
    with pytest.raises(TransactionItem.DoesNotExist):
        TransactionItem.get(user_pk(user_id), txn_sk(txn_id))
    assert verify.entries_without_records(user_pk(user_id)) == [
        f"audit record of entry {txn_id}#CREDIT, which does not exist"  # the squatter, not a movement
    ]
    _raw().delete_item(TableName=AUDIT_TABLE, Key={"pk": {"S": squatter.pk}, "sk": {"S": squatter.sk}})


def test_kyc_changes_methods_and_failed_logins_are_audited(
    api: InProcessApi, wallets: Wallets, user_id: str, aws: Any
) -> None:
    method_id = wallets.add_method(user_id)
    path = f"{METHODS}/{method_id}"
    removed = api.call("MethodsDeleteFunction", "DELETE", path, user_id, path_params={"method_id": method_id})
    assert removed.status == 200, removed.body
    admin = "ops_admin_audit"
    reply = api.call(
        "AdminUserKycFunction",
        "PUT",
        f"/api/v1/payments/admin/users/{user_id}/kyc",
        admin,
        body={"kyc_level": "ADVANCED"},
        roles="user,admin",
        path_params={"user_id": user_id},
    )
    assert reply.status == 200, reply.body
    events = {item.event_type: item for item in _chain(user_id)}
    assert events["payment_method_added"].actor == events["payment_method_removed"].actor == f"user:{user_id}"
    assert json.loads(events["payment_method_removed"].details or "{}") == {"method_id": method_id}
    kyc = events["kyc_level_changed"]
    assert (kyc.actor, kyc.status, kyc.user_id) == (f"admin:{admin}", "ADVANCED", user_id)
    assert json.loads(kyc.details or "{}") == {"from": "token claim", "to": "ADVANCED"}

    before = {item.sk for item in _auth_failures()}
    with pytest.raises(FunctionError):
        aws.runtime.invoke(
            "AuthorizerFunction", {"type": "TOKEN", "authorizationToken": "Bearer not-a-jwt", "methodArn": _METHOD_ARN}
        )
    new = [item for item in _auth_failures() if item.sk not in before]
    assert [(item.event_type, item.actor, item.user_id) for item in new] == [
        ("authentication_failed", "anonymous", None)
    ]
    assert "not-a-jwt" not in json.dumps(new[0].attribute_values, default=str)


_METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/api/v1/payments/wallet/balance"


def _auth_failures() -> list[AuditRecordItem]:
    found = []
    for page in _raw().get_paginator("scan").paginate(TableName=AUDIT_TABLE):
        for raw in page["Items"]:
            if raw["pk"]["S"].startswith("AUTH#"):
                found.append(AuditRecordItem.from_raw_data(raw))
    return found


def test_limit_refusals_and_fraud_decisions_are_audited(wallets: Wallets, user_id: str, aws: Any) -> None:
    method_id = wallets.add_method(user_id)
    refused = wallets.initiate(user_id, method_id, "5000.01")  # BASIC: 5,000.00 at most at once
    assert (refused.status, refused.body["error"]["code"]) == (403, "PAY_005")
    assert wallets.initiate(user_id, method_id, "5000.00").status == 200
    flagged = wallets.initiate(user_id, method_id, "4500.00")  # large and fast after the first
    assert (flagged.status, flagged.body["error"]["code"]) == (403, "PAY_006")
    events = [item for item in _chain(user_id) if item.event_type in ("limit_refused", "fraud_decision")]
    refusal, fraud = sorted(events, key=lambda item: item.event_type, reverse=True)
    assert (refusal.actor, refusal.status, refusal.user_id) == (f"user:{user_id}", "PAY_005", user_id)
    assert json.loads(refusal.details or "{}")["route"] == "/api/v1/payments/deposits/initiate"
    assert (fraud.actor, fraud.status, fraud.amount) == (f"user:{user_id}", "review", 450_000)
    assert json.loads(fraud.details or "{}")["transaction_type"] == "DEPOSIT"


# ---------------------------------------------------------------- chaining and anchoring
def test_the_chainer_links_every_record_and_anchors_the_head(
    wallets: Wallets, user_id: str, aws: Any, anchor_group: str
) -> None:
    _deposit(wallets, user_id)
    run = _chained(aws)
    assert run["linked"] >= 3
    assert run["complete"]
    chain = _chain(user_id)
    assert [item.seq for item in chain] == list(range(1, len(chain) + 1))
    assert all(item.pending is None for item in chain)
    head = AuditHeadItem.get(user_pk(user_id), HEAD_SK)
    assert (head.seq, head.chain_hash) == (len(chain), chain[-1].chain_hash)
    assert anchors.every()[user_pk(user_id)][head.seq] == {head.chain_hash}
    assert head.pending is None  # anchored
    assert _walk(user_id) == (len(chain), None)
    # New records extend the same chain.
    _funded(user_id, 500)
    _chained(aws)
    assert _walk(user_id) == (len(chain) + 1, None)


def test_two_chainers_at_once_give_one_chain(aws: Any, user_id: str, anchor_group: str) -> None:
    for n in range(60):
        _funded(user_id, 100 + n, f"adj_{user_id}_{n}")
    threads = [threading.Thread(target=_chained, args=(aws,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _chained(aws)  # whatever a conflict left for later
    chain = _chain(user_id)
    assert [item.seq for item in chain] == list(range(1, 61))
    assert _walk(user_id) == (60, None)


# ---------------------------------------------------------------- tampering
@pytest.fixture
def chained_user(aws: Any, user_id: str, anchor_group: str) -> Iterator[str]:
    """Five linked records; whatever the test does to them, they are put back as they were (the
    suite checks after every test that each ledger entry has its record)."""
    for n in range(5):
        _funded(user_id, 1_000 * (n + 1), f"adj_{user_id}_{n}")
    _chained(aws)
    assert _walk(user_id) == (5, None)
    saved = _partition(user_id)
    yield user_id
    for item in _partition(user_id):
        _raw().delete_item(TableName=AUDIT_TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
    for item in saved:
        _raw().put_item(TableName=AUDIT_TABLE, Item=item)
    assert verify.walk(user_pk(user_id)) == (5, None)  # the table as it was (a forged anchor stays)


def _partition(user_id: str) -> list[dict[str, Any]]:
    """Every item of the user's audit chain as stored (records and head)."""
    pages = (
        _raw()
        .get_paginator("query")
        .paginate(
            TableName=AUDIT_TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": user_pk(user_id)}},
        )
    )
    return [item for page in pages for item in page["Items"]]


def _key(item: AuditRecordItem) -> dict[str, Any]:
    return {"pk": {"S": item.pk}, "sk": {"S": item.sk}}


def _set(item: AuditRecordItem, **values: Any) -> None:
    names = {f"#{k}": k for k in values}
    exprs = ", ".join(f"#{k} = :{k}" for k in values)
    typed = {f":{k}": ({"N": str(v)} if isinstance(v, int) else {"S": str(v)}) for k, v in values.items()}
    _raw().update_item(
        TableName=AUDIT_TABLE,
        Key=_key(item),
        UpdateExpression=f"SET {exprs}",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=typed,
    )


def test_a_changed_field_is_the_first_broken_link(chained_user: str) -> None:
    third = _chain(chained_user)[2]
    _set(third, amount=999_999)
    assert _walk(chained_user) == (3, f"record 3 ({third.sk}) was altered: its fields no longer hash to its audit_hash")


def test_a_deleted_record_is_found(chained_user: str) -> None:
    second = _chain(chained_user)[1]
    _raw().delete_item(TableName=AUDIT_TABLE, Key=_key(second))
    walked, broken = _walk(chained_user)
    assert (walked, broken) == (1, "record 2 is missing (found 3 after 1)")


def test_reordered_records_are_found(chained_user: str) -> None:
    chain = _chain(chained_user)
    _set(chain[1], seq=3)
    _set(chain[2], seq=2)
    assert _walk(chained_user) == (2, f"record 2 ({chain[2].sk}) does not follow record 1")


def test_an_inserted_record_is_found(chained_user: str) -> None:
    chain = _chain(chained_user)
    forged = records.build("adjustment_completed", chain=user_pk(chained_user), user_id=chained_user, amount=1)
    forged.pending = forged.pending_at = None
    forged.seq, forged.prev_hash = 3, chain[1].chain_hash
    forged.chain_hash = records.link(forged.prev_hash, 3, forged.audit_hash)
    for item in reversed(chain[2:]):  # shift the rest up, as an attacker would
        _set(item, seq=int(item.seq) + 1)
    forged.save()
    assert _walk(chained_user) == (4, f"record 4 ({chain[2].sk}) does not follow record 3")


def test_a_deleted_tail_is_found_by_the_head(chained_user: str) -> None:
    last = _chain(chained_user)[-1]
    _raw().delete_item(TableName=AUDIT_TABLE, Key=_key(last))
    assert _walk(chained_user) == (4, "the head says record 5 but the chain ends at record 4")


def test_a_chain_rewritten_whole_is_found_by_its_anchor(chained_user: str) -> None:
    """The attacker changes an amount and recomputes every hash and the head: the table alone is
    consistent again, but the anchor written before disagrees."""
    _rewrite_whole(chained_user)
    assert _walk(chained_user) == (5, "record 5 differs from its anchor: the chain was rewritten")


def _rewrite_whole(user_id: str) -> str:
    """Record 2's amount changed, every hash after it recomputed and the head moved to match, as
    an administrator of the table could; returns the new head hash."""
    prev = records.GENESIS_HASH
    for item in _chain(user_id):
        fields = records.fields_of(item)
        if item.seq == 2:
            fields["amount"] = 1
        audit_hash = records.record_hash(fields)
        chain_hash = records.link(prev, int(item.seq), audit_hash)
        _set(item, amount=fields["amount"], audit_hash=audit_hash, prev_hash=prev, chain_hash=chain_hash)
        prev = chain_hash
    _raw().update_item(
        TableName=AUDIT_TABLE,
        Key={"pk": {"S": user_pk(user_id)}, "sk": {"S": HEAD_SK}},
        UpdateExpression="SET chain_hash = :h",
        ExpressionAttributeValues={":h": {"S": prev}},
    )
    return prev


def test_a_ledger_entry_without_its_record_is_reported(
    aws: Any, chained_user: str, travel: Travel, only_chains: Any
) -> None:
    only_chains(user_pk(chained_user))
    txn_id = f"adj_{chained_user}_0"
    key = {"pk": {"S": user_pk(chained_user)}, "sk": {"S": entry_record_sk(txn_id, "CREDIT")}}
    saved = _raw().get_item(TableName=AUDIT_TABLE, Key=key)["Item"]
    _raw().delete_item(TableName=AUDIT_TABLE, Key=key)
    try:
        assert verify.entries_without_records(user_pk(chained_user)) == [f"entry {txn_id}#CREDIT has no audit record"]
        travel.forward(verify.SETTLING * 2)  # the verifier leaves the last minutes' money to its next run
        found = run_job(aws, "AuditVerifyFunction")
        assert found["missing"][chained_user] == [f"entry {txn_id}#CREDIT has no audit record"]
        assert found["broken"][user_pk(chained_user)] == "record 1 is missing (found 2 after 0)"
    finally:
        _raw().put_item(TableName=AUDIT_TABLE, Item=saved)
    assert verify.entries_without_records(user_pk(chained_user)) == []


def test_the_scheduled_verifier_reports_a_clean_chain_clean(aws: Any, chained_user: str, only_chains: Any) -> None:
    only_chains(user_pk(chained_user))
    found = run_job(aws, "AuditVerifyFunction")
    assert user_pk(chained_user) not in found["broken"]
    assert chained_user not in found["missing"]
    assert (found["chains"], found["records"], found["pass_complete"]) == (1, 5, True)


# ---------------------------------------------------------------- review findings (regressions)
@pytest.fixture
def chainer_env(anchor_group: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The chainer run in-process (to inject its faults), writing to the stack's anchor group."""
    return anchor_group


def test_heads_linked_by_a_run_that_died_before_anchoring_are_anchored_by_the_next(
    aws: Any, user_id: str, chainer_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed after its link transactions and before PutLogEvents: the head stays on the
    chainer's list, and the next run anchors it although it links nothing for this chain."""
    for n in range(3):
        _funded(user_id, 1_000 + n, f"adj_{user_id}_{n}")

    def killed(_: Any) -> int:
        raise TimeoutError("Task timed out after 300.00 seconds")

    with monkeypatch.context() as patched:
        patched.setattr(anchors, "write", killed)
        with pytest.raises(TimeoutError):
            chain.chain_pending()
    head = AuditHeadItem.get(user_pk(user_id), HEAD_SK, consistent_read=True)
    assert (head.seq, head.pending is not None) == (3, True)
    chain.chain_pending()  # the next scheduled run
    head = AuditHeadItem.get(user_pk(user_id), HEAD_SK, consistent_read=True)
    assert anchors.every()[user_pk(user_id)][3] == {head.chain_hash}
    assert head.pending is None


def test_the_chainer_stops_at_its_deadline_inside_a_long_chain_and_anchors_what_it_linked(
    aws: Any, user_id: str, chainer_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """151 waiting records of one chain (a burst of forged tokens does that to an AUTH# chain),
    10 s per link transaction, 30 s left with a 20 s reserve: one batch, then stop and anchor."""
    chain.chain_pending()  # what other tests left waiting
    for n in range(151):
        _funded(user_id, 1 + n, f"adj_{user_id}_{n}")
    elapsed = [0.0]
    real_link = chain._link

    def slow_link(*args: Any) -> Any:
        elapsed[0] += 10.0
        return real_link(*args)

    monkeypatch.setattr(chain, "_link", slow_link)
    run = chain.chain_pending(Deadline(lambda: 30.0 - elapsed[0]), reserve_s=20.0)
    assert elapsed[0] <= 30.0 - 10.0  # stopped with its reserve left, not killed
    assert (run.complete, run.linked) == (False, 100)
    assert max(anchors.every()[user_pk(user_id)]) == 100
    monkeypatch.undo()
    monkeypatch.setenv("AUDIT_ANCHOR_LOG_GROUP", chainer_env)
    chain.chain_pending()
    assert _walk(user_id) == (151, None)


def test_the_chainer_running_during_a_verification_is_no_finding(
    aws: Any, user_id: str, chainer_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        _funded(user_id, 1_000 * (n + 1), f"adj_{user_id}_{n}")
    chain.chain_pending()
    _funded(user_id, 777, f"adj_{user_id}_late")
    real_head = verify._head
    calls = []

    def head_then_chainer(name: str) -> Any:
        found = real_head(name)
        if name == user_pk(user_id) and not calls:
            calls.append(name)
            chain.chain_pending()  # links record 6 and moves the head after the walk read it
        return found

    monkeypatch.setattr(verify, "_head", head_then_chainer)
    assert verify.walk(user_pk(user_id), anchors.every().get(user_pk(user_id))) == (5, None)


def test_a_payment_committing_during_the_entry_check_is_no_finding(aws: Any, user_id: str) -> None:
    _funded(user_id, 1_000, f"adj_{user_id}_0")
    started = utcnow()
    _funded(user_id, 2_000, f"adj_{user_id}_1")  # commits while the verifier reads
    assert verify.entries_without_records(user_pk(user_id), started - verify.SETTLING) == []


def test_a_forged_anchor_does_not_hide_a_rewritten_chain(aws: Any, chained_user: str, anchor_group: str) -> None:
    """The chain rewritten whole (records and head), then an anchor of the new head appended
    after the genuine one: every anchor is checked, and the two disagree."""
    prev = _rewrite_whole(chained_user)
    logs = boto3.client("logs")
    logs.create_log_stream(logGroupName=anchor_group, logStreamName=f"forged-{chained_user}")
    forged = {"chain": user_pk(chained_user), "seq": 5, "chain_hash": prev, "anchored_at": "x"}
    logs.put_log_events(
        logGroupName=anchor_group,
        logStreamName=f"forged-{chained_user}",
        logEvents=[{"timestamp": int(utcnow().timestamp() * 1000) + 60_000, "message": json.dumps(forged)}],
    )
    assert _walk(chained_user) == (5, "record 5 has 2 anchors that disagree: an anchor was forged")


def test_a_record_put_beyond_the_head_is_found(chained_user: str) -> None:
    forged = records.build("adjustment_completed", chain=user_pk(chained_user), user_id=chained_user, amount=1)
    forged.pending = forged.pending_at = None
    forged.seq, forged.prev_hash = 6, _chain(chained_user)[-1].chain_hash
    forged.chain_hash = records.link(forged.prev_hash, 6, forged.audit_hash)
    forged.save()
    assert _walk(chained_user) == (5, f"record 6 ({forged.sk}) lies beyond the head (record 5)")


def test_only_the_chainer_may_write_to_the_anchor_log_group() -> None:
    """SAM's basic execution role allows logs:PutLogEvents on "*": every other role carries the
    explicit Deny on the anchor group."""
    from local.template import load_template, to_cloudformation

    cfn = to_cloudformation(load_template(), {"Environment": "dev", "EnableMockGateway": "true"})
    deny = cfn["Resources"]["ProtectAuditAnchorsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [(s["Effect"], "logs:PutLogEvents" in s["Action"]) for s in deny] == [("Deny", True)]
    roles = {name: r["Properties"] for name, r in cfn["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    unprotected = sorted(
        name
        for name, props in roles.items()
        if {"Ref": "ProtectAuditAnchorsPolicy"} not in props.get("ManagedPolicyArns", [])
    )
    assert unprotected == ["AuditChainFunctionRole"]


def test_a_ledger_entry_edited_with_its_wallet_disagrees_with_its_audit_record(aws: Any, chained_user: str) -> None:
    """An entry's amount and the wallet changed together keep balance == sum of entries (the
    reconciliation sees nothing); the entry's audit record still says what really moved."""
    txn_id = f"adj_{chained_user}_0"
    key = {"pk": {"S": user_pk(chained_user)}, "sk": {"S": entry_sk(txn_id, "CREDIT")}}
    wallet_key = {"pk": {"S": user_pk(chained_user)}, "sk": {"S": "WALLET"}}
    ledger = os.environ["LEDGER_TABLE_NAME"]
    saved = [_raw().get_item(TableName=ledger, Key=k)["Item"] for k in (key, wallet_key)]
    _raw().update_item(
        TableName=ledger,
        Key=key,
        UpdateExpression="SET amount = :a, balance_delta = :a",
        ExpressionAttributeValues={":a": {"N": "1000000"}},
    )
    _raw().update_item(
        TableName=ledger,
        Key=wallet_key,
        UpdateExpression="ADD balance :d, available :d",
        ExpressionAttributeValues={":d": {"N": "999000"}},
    )
    try:
        found = verify.entries_without_records(user_pk(chained_user))
    finally:
        for item in saved:
            _raw().put_item(TableName=ledger, Item=item)
    assert found == [f"entry {txn_id}#CREDIT moves 1000000, its audit record says CREDIT 1000"]


def test_the_verifier_continues_where_its_last_run_stopped(
    aws: Any, anchor_group: str, monkeypatch: pytest.MonkeyPatch, only_chains: Any
) -> None:
    """Runs with time for two chains each: the cursor carries the pass on, and every chain is
    walked once in the pass."""
    import uuid

    from payments.flows import jobs

    users = [unique_id("user") for _ in range(6)]
    for user in users:
        _funded(user, 100)
    chain.chain_pending()
    only_chains(*[user_pk(user) for user in users])
    every = set(verify._chains_to_walk(anchors.every()))
    assert len(every) == 6
    walked: list[str] = []
    real_walk = verify.walk

    def counting(name: str, anchored: Any = None) -> Any:
        walked.append(name)
        return real_walk(name, anchored)

    monkeypatch.setattr(verify, "walk", counting)
    monkeypatch.setattr(jobs, "_AUDIT_CURSOR_KEY", f"AUDIT_VERIFICATION#cursor-{uuid.uuid4().hex[:6]}")
    runs = 0
    while True:
        start = len(walked)
        found = jobs.verify_audit(Deadline(lambda start=start: 100.0 if len(walked) - start < 2 else 0.0))
        runs += 1
        if found.pass_complete:
            break
    assert runs > 2
    assert sorted(walked) == sorted(every)  # each once
