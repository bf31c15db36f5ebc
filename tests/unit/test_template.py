"""template.yaml is the one source of truth; these are the promises it must keep."""

from pathlib import Path
from typing import Any

import pytest

from local.template import REPO_ROOT, api_routes, functions, load_template, to_cloudformation

SAM = load_template()
RESOURCES: dict[str, Any] = SAM["Resources"]
PUBLIC_PATHS = {"/health"}
PUBLIC_PREFIXES = ("/webhooks/", "/mock-gateway/")


def _of_type(kind: str) -> dict[str, Any]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


def test_the_template_translates_offline() -> None:
    cfn = to_cloudformation(SAM, {"Environment": "prod"})
    assert "AWS::Lambda::Function" in {res["Type"] for res in cfn["Resources"].values()}


@pytest.mark.parametrize("logical_id", sorted(functions(SAM)))
def test_every_function_has_a_handler_and_a_sample_event(logical_id: str) -> None:
    spec = functions(SAM)[logical_id]
    module, _, name = spec.handler.rpartition(".")
    source = (spec.code_dir / f"{module}.py").read_text()
    assert f"def {name}(" in source or f"{name} = " in source
    assert (REPO_ROOT / "events" / f"{Path(spec.code_dir).name}.json").is_file()


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::Serverless::Function")))
def test_functions_have_least_privilege_policies(logical_id: str) -> None:
    policies = RESOURCES[logical_id]["Properties"].get("Policies", [])
    for policy in policies:
        if isinstance(policy, dict) and "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(not action.endswith("*") for action in actions), (logical_id, actions)
            assert statement["Resource"] != "*", logical_id


def test_only_health_and_webhooks_are_public() -> None:
    public = {route.path for route in api_routes(SAM) if route.authorizer is None}
    assert all(path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) for path in public), public
    assert "/health" in public


def test_the_mock_gateway_does_not_exist_in_prod() -> None:
    for route in api_routes(SAM):
        if route.path.startswith("/mock-gateway/") or route.path == "/webhooks/mock":
            assert RESOURCES[route.function].get("Condition") == "IsNotProd", route
    variables = SAM["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MOCK_GATEWAY_ENABLED"] == {"Fn::If": ["IsProd", "false", "true"]}


def test_expiring_records_live_in_a_table_with_ttl() -> None:
    ttl = RESOURCES["OpsTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_ledger_table_is_on_demand_recoverable_encrypted_and_protected_in_prod() -> None:
    table = RESOURCES["LedgerTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
    assert table["DeletionPolicy"] == "Retain"


def test_kms_key_rotates_and_has_an_alias() -> None:
    assert RESOURCES["PaymentsKey"]["Properties"]["EnableKeyRotation"] is True
    assert _of_type("AWS::KMS::Alias")


def test_globals_configure_powertools_tracing_and_arm64() -> None:
    function_globals = SAM["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    variables = function_globals["Environment"]["Variables"]
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
    assert variables.keys() >= powertools


def test_outputs_include_the_api_url() -> None:
    assert "execute-api" in SAM["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
