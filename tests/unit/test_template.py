"""template.yaml is the one source of truth; these are the promises it must keep."""

import json
import time
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


#: Actions with no resource type in the Service Authorization Reference: a policy must say "*".
WITHOUT_RESOURCE_TYPES = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::Serverless::Function")))
def test_functions_have_least_privilege_policies(logical_id: str) -> None:
    policies = RESOURCES[logical_id]["Properties"].get("Policies", [])
    for policy in policies:
        if isinstance(policy, dict) and "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(not action.endswith("*") for action in actions), (logical_id, actions)
            # "*" only where AWS has no resource-level permission for the action.
            if statement["Resource"] == "*":
                assert set(actions) <= WITHOUT_RESOURCE_TYPES, (logical_id, actions)


def test_only_health_and_webhooks_are_public() -> None:
    """And CORS preflights: browsers send OPTIONS without the bearer token; the preflight
    function answers them and nothing else runs without the authorizer."""
    routes = api_routes(SAM)
    public = {route.path for route in routes if route.authorizer is None and route.method != "OPTIONS"}
    assert all(path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) for path in public), public
    assert "/health" in public
    assert {route.function for route in routes if route.method == "OPTIONS"} == {"CorsPreflightFunction"}


def test_every_api_path_answers_the_cors_preflight() -> None:
    """API Gateway picks the most specific resource, then the method: a path without its own
    OPTIONS answers a preflight with 403 and the browser blocks the call."""
    routes = api_routes(SAM)
    browser_paths = {r.path for r in routes if r.path.startswith(("/api/", "/health")) and r.method != "OPTIONS"}
    preflights = {r.path for r in routes if r.method == "OPTIONS" and r.authorizer is None}
    assert browser_paths == preflights


def test_the_mock_gateway_is_an_explicit_opt_in_with_keys_of_its_own() -> None:
    """Off by default in every environment; on, its routes exist and its keys are generated per
    stack (never the public constants the local stack uses)."""
    parameter = SAM["Parameters"]["EnableMockGateway"]
    assert (parameter["Default"], SAM["Conditions"]["MockEnabled"]) == (
        "false",
        {"Fn::Equals": [{"Ref": "EnableMockGateway"}, "true"]},
    )
    mock_routes = [r for r in api_routes(SAM) if r.path.startswith("/mock-gateway/") or r.path == "/webhooks/mock"]
    assert len(mock_routes) == 3
    for route in mock_routes:
        assert RESOURCES[route.function].get("Condition") == "MockEnabled", route
    variables = SAM["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["MOCK_GATEWAY_ENABLED"] == {"Fn::If": ["MockEnabled", "true", "false"]}
    secret = RESOURCES["MockGatewaySecret"]
    assert secret["Condition"] == "MockEnabled"
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "MOCK_KEY_SECRET"
    assert "SecretString" not in secret["Properties"]
    for name, resource in RESOURCES.items():
        if "Mock" in name and resource["Type"].startswith("AWS::Serverless::Function"):
            assert resource.get("Condition") == "MockEnabled", name
    deployed = to_cloudformation(SAM, {"Environment": "dev"})["Resources"]
    mock_resources = {name: r.get("Condition") for name, r in deployed.items() if "Mock" in name}
    assert len(mock_resources) > 5
    # roles, permissions and all; their alarms also need FunctionAlarms, and MockEnabled as well
    assert set(mock_resources.values()) == {"MockEnabled", "MockFunctionAlarms"}
    assert {"Condition": "MockEnabled"} in SAM["Conditions"]["MockFunctionAlarms"]["Fn::And"]


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
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"  # a failed first create leaves nothing behind


def test_named_or_kept_resources_never_block_a_redeploy_after_a_failed_create() -> None:
    """Retain keeps a resource of a stack whose first create failed; its fixed name then blocks
    the next deploy. Only the API Gateway account role (account-wide, unnamed) keeps Retain."""
    kept = {name: r["DeletionPolicy"] for name, r in RESOURCES.items() if "DeletionPolicy" in r}
    assert {name for name, policy in kept.items() if policy == "Retain"} == {"ApiGatewayCloudWatchRole"}
    assert kept["LedgerTable"] == kept["PaymentsKey"] == "RetainExceptOnCreate"


def test_every_function_and_the_state_machine_log_to_a_group_the_stack_owns() -> None:
    for name, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]
        assert group == {"Ref": f"{name}LogGroup"}, name
        log_group = RESOURCES[f"{name}LogGroup"]
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert log_group.get("Condition") == resource.get("Condition"), name
    logging = RESOURCES["WithdrawalStateMachine"]["Properties"]["Logging"]
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["WithdrawalStateMachineLogGroup", "Arn"]
    }


def test_the_saga_runs_published_versions_never_latest() -> None:
    """An execution waits up to ApprovalTimeoutSeconds: it calls the versions published by the
    deploy it started under (its definition), not whatever was deployed since."""
    substitutions = RESOURCES["WithdrawalStateMachine"]["Properties"]["DefinitionSubstitutions"]
    for key, value in substitutions.items():
        function = value["Ref"].removesuffix(".Version")
        assert value == {"Ref": f"{function}.Version"}, key
        assert RESOURCES[function]["Properties"]["AutoPublishAlias"] == "live"


def test_scheduled_jobs_send_failed_runs_to_a_queue() -> None:
    for name, resource in RESOURCES.items():
        events = resource.get("Properties", {}).get("Events", {}).values()
        if resource["Type"] == "AWS::Serverless::Function" and any(e["Type"] == "Schedule" for e in events):
            config = resource["Properties"]["EventInvokeConfig"]
            assert config["DestinationConfig"]["OnFailure"] == {
                "Type": "SQS",
                "Destination": {"Fn::GetAtt": ["ScheduledJobFailuresQueue", "Arn"]},
            }, name


def test_one_stage_only_with_the_throttling() -> None:
    """Without OpenApiVersion SAM adds a public stage named "Stage" without the method settings."""
    api = RESOURCES["PaymentsApi"]["Properties"]
    assert api["OpenApiVersion"] == "3.0.1"
    cfn = to_cloudformation(SAM, {"Environment": "dev"})["Resources"]
    stages = [r["Properties"]["StageName"] for r in cfn.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert stages == [{"Ref": "Environment"}]
    # SAM's extra stage is the deployment's own StageName ("Stage").
    deployments = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::ApiGateway::Deployment"]
    assert [d.get("StageName") for d in deployments] == [None]


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


def test_the_mock_cannot_be_deployed_to_prod() -> None:
    rule = SAM["Rules"]["NoMockInProd"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "EnableMockGateway"}, "false"]}


def test_a_deploy_that_toggles_the_mock_redeploys_the_api() -> None:
    """SAM hashes the API body with Fn::If unresolved: without AlwaysDeploy the stage would keep
    the old route set when EnableMockGateway changes (review finding)."""
    assert RESOURCES["PaymentsApi"]["Properties"]["AlwaysDeploy"] is True
    off = to_cloudformation(SAM, {"Environment": "dev", "EnableMockGateway": "false"})["Resources"]
    time.sleep(1.1)  # SAM's AlwaysDeploy stamps the deployment with the time of the transform
    on = to_cloudformation(SAM, {"Environment": "dev", "EnableMockGateway": "true"})["Resources"]
    deployments = [{k for k in cfn if k.startswith("PaymentsApiDeployment")} for cfn in (off, on)]
    assert deployments[0] != deployments[1]


def _emitted_metric_names() -> set[str]:
    import re as _re

    names: set[str] = set()
    for path in (REPO_ROOT / "shared" / "payments").rglob("*.py"):
        text = path.read_text()
        names |= set(_re.findall(r'(?:add_metric|single_metric)\(\s*name="([A-Za-z]+)"', text))
        names |= set(_re.findall(r'_one_metric\(\s*"([A-Za-z]+)"', text))  # payments.platform.observability
    return names


def test_every_alarm_notifies_the_topic_and_watches_a_metric_the_code_emits() -> None:
    """An alarm on a misspelt EMF metric never fires: each metric of ours that an alarm watches
    must be one the layer code emits."""
    emitted = _emitted_metric_names()
    alarms = _of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 12
    for name in alarms:
        props = RESOURCES[name]["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        watched = (
            [props]
            if "MetricName" in props
            else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        )
        for metric in watched:
            if metric["Namespace"] == {"Ref": "MetricsNamespace"}:
                assert metric["MetricName"] in emitted, (name, metric["MetricName"])
                # the service's dimension, and a metric's own (single_metric: kind, gateway) after it
                assert metric["Dimensions"][0] == {"Name": "service", "Value": "payments"}, name
    assert SAM["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "payments"


@pytest.mark.parametrize("logical_id", sorted(functions(SAM)))
def test_every_function_has_its_failure_and_duration_alarms(logical_id: str) -> None:
    """Errors and throttles of each function, and its duration within 20% of its own timeout."""
    timeout = SAM["Resources"][logical_id]["Properties"].get("Timeout", SAM["Globals"]["Function"]["Timeout"])
    failing = RESOURCES[f"{logical_id}ErrorsAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in failing["Metrics"] if "MetricStat" in m}
    assert watched == ({"Throttles"} if logical_id == "AuthorizerFunction" else {"Errors", "Throttles"})
    for metric in failing["Metrics"]:
        if "MetricStat" in metric:
            assert metric["MetricStat"]["Metric"]["Dimensions"] == [
                {"Name": "FunctionName", "Value": {"Ref": logical_id}}
            ]
    duration = RESOURCES[f"{logical_id}DurationAlarm"]["Properties"]
    assert (duration["MetricName"], duration["Statistic"]) == ("Duration", "Maximum")
    assert duration["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
    assert duration["Threshold"] == timeout * 800  # ms: 80 % of the timeout


def test_the_dashboard_shows_metrics_the_code_emits() -> None:
    import re as _re

    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = _re.sub(r"\$\{[A-Za-z:]+\}", "X", body)
    widgets = json.loads(rendered)["widgets"]
    assert len(widgets) >= 6
    emitted = _emitted_metric_names()
    ours = [
        metric[1]
        for widget in widgets
        for metric in widget["properties"]["metrics"]
        if isinstance(metric[0], str) and metric[0] == "X"  # our namespace, substituted
    ]
    assert ours
    assert set(ours) <= emitted, set(ours) - emitted
    assert "GatewayLatency" in emitted  # the SEARCH widget's metric


def test_domain_events_come_from_the_ledger_stream_in_order_and_are_never_skipped() -> None:
    table = RESOURCES["LedgerTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    source = RESOURCES["DomainEventsFunction"]["Properties"]["Events"]["LedgerStream"]
    assert source["Type"] == "DynamoDB"
    props = source["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["LedgerTable", "StreamArn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]  # retried from the failed record
    assert (props["ParallelizationFactor"], props["MaximumRetryAttempts"]) == (1, -1)  # in order, until published
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DomainEventsFailuresQueue", "Arn"]
    }
    assert {"DomainEventsLagAlarm", "DomainEventsUnpublishedAlarm"} <= RESOURCES.keys()
    bus_name = SAM["Resources"]["DomainEventsFunction"]["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"]
    assert bus_name == {"Ref": "DomainEventBus"}


def _events_endpoint_resources(url: str) -> dict[str, Any]:
    cfn = to_cloudformation(SAM, {"Environment": "dev", "EventsEndpointUrl": url})["Resources"]
    return {name: res for name, res in cfn.items() if name.startswith("EventsEndpoint")}


def test_the_events_endpoint_is_an_api_destination_only_when_asked_for() -> None:
    """EventBridge delivers to the user's endpoint (retries, a dead-letter queue, the key in a
    secret of the stack): no HTTP sender of ours. Without a URL the resources are not created."""
    endpoint = _events_endpoint_resources("https://backend.example.com/hooks/wallet")
    assert {res["Condition"] for res in endpoint.values()} == {"EventsEndpoint"}
    rule = endpoint["EventsEndpointRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "DomainEventBus"}
    assert rule["EventPattern"] == {"source": ["serverless-wallet"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EventsEndpointDestination", "Arn"]}
    assert target["InputPath"] == "$.detail"  # the body is the event as docs/events/ describes it
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsEndpointFailuresQueue", "Arn"]}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    destination = endpoint["EventsEndpointDestination"]["Properties"]
    assert (destination["InvocationEndpoint"], destination["HttpMethod"]) == ({"Ref": "EventsEndpointUrl"}, "POST")
    auth = endpoint["EventsEndpointConnection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert "resolve:secretsmanager" in auth["ApiKeyValue"]["Fn::Sub"]  # never a parameter in clear
    (statement,) = endpoint["EventsEndpointRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "events:InvokeApiDestination"
    assert statement["Resource"] == {"Fn::GetAtt": ["EventsEndpointDestination", "Arn"]}
    from payments.events.domain import SOURCE

    assert rule["EventPattern"]["source"] == [SOURCE]


def test_the_local_stack_creates_the_events_endpoint_too() -> None:
    from local.iam import Requirement
    from local.stack import offline_policies

    policies = offline_policies({"EventsEndpointUrl": "https://backend.example.com/hooks/wallet"})
    publish = Requirement("events:PutEvents", "<DomainEventBus>")
    assert policies.allowing("DomainEventsFunction", publish) == ["PublishDomainEvents"]
    assert policies.allowing("DomainEventsFunction", Requirement("events:PutEvents", "<default>")) == []
