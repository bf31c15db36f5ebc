"""The IAM model of the local stack (local/iam.py): what AWS would allow or refuse, the KMS use a
customer-managed key implies, and the least-privilege report of ``make iam``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.iam import Policies, Requirement, Statement, mutations, report

VIA_DYNAMODB = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def _policies(statements: dict[str, list[Statement]], encrypted: bool = False, **exempt: dict[str, str]) -> Policies:
    return Policies(
        statements=statements,
        exempt=dict(exempt),
        symbols=[],
        names={"payments-ledger": "<LedgerTable>"},
        encrypted_by={"<LedgerTable>": "<TableKey>"} if encrypted else {},
        keys=["<TableKey>"],
        state_machines=["Saga"],
    )


def _allowed(policies: Policies, who: str, operation: str, **params: object) -> bool:
    needs = policies.requirements("dynamodb", operation, {"TableName": "payments-ledger", **params})
    return all(policies.allowing(who, need) for need in needs)


READ = Statement("Read", ("dynamodb:GetItem", "dynamodb:Query"), ("<LedgerTable>",))


def test_actions_and_resources_must_both_match() -> None:
    policies = _policies({"Fn": [READ]})
    assert _allowed(policies, "Fn", "GetItem")
    assert not _allowed(policies, "Fn", "PutItem")
    assert not _allowed(policies, "Other", "GetItem")  # a principal without statements is refused


def test_a_table_grant_does_not_cover_its_indexes() -> None:
    index = Statement("History", ("dynamodb:Query",), ("<LedgerTable>/index/by-time",))
    assert not _allowed(_policies({"Fn": [READ]}), "Fn", "Query", IndexName="by-time")
    assert _allowed(_policies({"Fn": [index]}), "Fn", "Query", IndexName="by-time")
    assert not _allowed(_policies({"Fn": [index]}), "Fn", "Query", IndexName="inflight")


def test_every_item_of_a_transaction_needs_its_own_grant() -> None:
    put_only = Statement("Put", ("dynamodb:PutItem",), ("<LedgerTable>",))
    items = [{"Put": {"TableName": "payments-ledger"}}, {"Update": {"TableName": "payments-ledger"}}]
    needs = _policies({}).requirements("dynamodb", "TransactWriteItems", {"TransactItems": items})
    assert {need.action for need in needs} == {"dynamodb:PutItem", "dynamodb:UpdateItem"}
    policies = _policies({"Fn": [put_only]})
    assert [need.action for need in needs if not policies.allowing("Fn", need)] == ["dynamodb:UpdateItem"]


def test_a_customer_managed_key_on_a_table_needs_kms_through_dynamodb() -> None:
    """DynamoDB calls KMS as the caller: a role that may read the table but not decrypt with its
    key is refused on AWS, and moto would never say so."""
    decrypt = Statement("Decrypt", ("kms:Decrypt",), ("<TableKey>",), VIA_DYNAMODB)
    write_key = Statement("Encrypt", ("kms:GenerateDataKey", "kms:Encrypt"), ("<TableKey>",), VIA_DYNAMODB)
    put = Statement("Put", ("dynamodb:PutItem",), ("<LedgerTable>",))
    assert not _allowed(_policies({"Fn": [READ]}, encrypted=True), "Fn", "GetItem")
    assert _allowed(_policies({"Fn": [READ, decrypt]}, encrypted=True), "Fn", "GetItem")
    assert not _allowed(_policies({"Fn": [put, decrypt]}, encrypted=True), "Fn", "PutItem")
    assert _allowed(_policies({"Fn": [put, decrypt, write_key]}, encrypted=True), "Fn", "PutItem")


def test_a_kms_condition_on_another_service_does_not_hold() -> None:
    via_secrets = Statement(
        "Decrypt", ("kms:Decrypt",), ("<TableKey>",), {"StringEquals": {"kms:ViaService": "secretsmanager.x"}}
    )
    assert not _allowed(_policies({"Fn": [READ, via_secrets]}, encrypted=True), "Fn", "GetItem")


def test_an_unmodelled_condition_operator_refuses() -> None:
    odd = Statement("Odd", ("dynamodb:GetItem",), ("<LedgerTable>",), {"NumericLessThan": {"aws:x": "1"}})
    assert not _allowed(_policies({"Fn": [odd]}), "Fn", "GetItem")


def test_send_task_success_needs_a_grant_on_every_resource() -> None:
    """SendTask* have no resource type (Service Authorization Reference): a grant scoped to the
    state machine's ARN does not cover them on AWS."""
    scoped = Statement("Scoped", ("states:SendTaskSuccess",), ("<Saga>",))
    anywhere = Statement("Anywhere", ("states:SendTaskSuccess",), ("*",))
    (need,) = _policies({}).requirements("stepfunctions", "SendTaskSuccess", {"taskToken": "t"})
    assert need == Requirement("states:SendTaskSuccess", "*")
    assert _policies({"Fn": [scoped]}).allowing("Fn", need) == []
    assert _policies({"Fn": [anywhere]}).allowing("Fn", need) == ["Anywhere"]


# ------------------------------------------------------------------ the report of make iam
def _trace(folder: Path, *records: dict[str, object]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "trace-1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def _call(action: str, resource: str = "<LedgerTable>") -> dict[str, object]:
    return {"principal": "Fn", "action": action, "resource": resource, "context": []}


def test_the_report_passes_when_every_statement_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _trace(tmp_path / "t", _call("dynamodb:GetItem"), _call("dynamodb:Query"))
    assert report(_policies({"Fn": [READ]}), folder) == 0
    assert "dynamodb:GetItem" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("statements", "calls", "problem"),
    [
        ([READ], [_call("dynamodb:GetItem")], "grants dynamodb:Query that no call uses"),
        ([READ, Statement("Put", ("dynamodb:PutItem",), ("<LedgerTable>",))], [_call("dynamodb:GetItem")], "never"),
        (
            [READ, Statement("Again", READ.actions, READ.resources)],
            [_call("dynamodb:GetItem"), _call("dynamodb:Query")],
            "redundant",
        ),
        ([READ], [_call("dynamodb:GetItem"), _call("dynamodb:Query"), _call("dynamodb:PutItem")], "would be denied"),
    ],
    ids=["unused-action", "unused-statement", "redundant", "denied"],
)
def test_the_report_fails_on_least_privilege_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], statements: list[Statement], calls: list[dict], problem: str
) -> None:
    assert report(_policies({"Fn": statements}), _trace(tmp_path / "t", *calls)) == 1
    assert problem in capsys.readouterr().out


def test_a_statement_kept_with_a_reason_passes(tmp_path: Path) -> None:
    put = Statement("Put", ("dynamodb:PutItem",), ("<LedgerTable>",))
    folder = _trace(tmp_path / "t", _call("dynamodb:GetItem"), _call("dynamodb:Query"))
    assert report(_policies({"Fn": [READ, put]}, Fn={"Put": "only on a path no test reaches"}), folder) == 0


def test_a_denial_met_during_the_tests_fails_the_report(tmp_path: Path) -> None:
    denied = {"principal": "Fn", "denied": "dynamodb:PutItem", "resource": "<LedgerTable>"}
    folder = _trace(tmp_path / "t", _call("dynamodb:GetItem"), _call("dynamodb:Query"), denied)
    assert report(_policies({"Fn": [READ]}), folder) == 1


def test_without_a_statement_the_report_fails_and_the_mutation_check_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put = Statement("Put", ("dynamodb:PutItem",), ("<LedgerTable>",))
    folder = _trace(tmp_path / "t", _call("dynamodb:GetItem"), _call("dynamodb:Query"), _call("dynamodb:PutItem"))
    policies = _policies({"Fn": [READ, put]})
    assert report(policies, folder) == 0
    assert report(policies, folder, without="Fn:Put") == 1
    assert mutations(policies, folder) == 0
    assert "2 statements removed one at a time: 2 denied a traced call, 0 kept" in capsys.readouterr().out
    wider = _policies({"Fn": [READ, put, Statement("Spare", ("dynamodb:GetItem",), ("<LedgerTable>",))]})
    assert mutations(wider, folder) == 1  # READ and Spare each cover GetItem: removing either denies nothing
