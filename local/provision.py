"""Create the CloudFormation resources of the translated template in moto.

moto's own CloudFormation cannot create this template (no ``AWS::SecretsManager::Secret``, no SAM
layers), so this small provisioner resolves the intrinsics and creates the resource types the
stack needs through the ordinary AWS APIs. Types that have no local meaning (API Gateway, layers,
Lambda permissions, alarms, log groups) are skipped: the HTTP front and the in-process runtime
stand in for them.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT_ID = "123456789012"

SKIPPED_TYPES = frozenset(
    {
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Account",  # the account-wide CloudWatch role of API Gateway (access logs)
        "AWS::Lambda::EventInvokeConfig",  # failure destinations of asynchronous (scheduled) runs
        "AWS::Lambda::Permission",
        "AWS::Lambda::LayerVersion",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::IAM::ManagedPolicy",  # moto does not enforce IAM; roles are created without policies
        "AWS::SQS::QueuePolicy",  # EventBridge's right to send to a dead-letter queue (not enforced)
    }
)


@dataclass
class Stack:
    """What the provisioner created: physical ids and attributes by logical id."""

    name: str
    region: str
    parameters: dict[str, str]
    conditions: dict[str, bool] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Lambda event source mappings (resolved properties by logical id): ``local.streams`` polls them.
    event_sources: dict[str, dict[str, Any]] = field(default_factory=dict)


class Provisioner:
    def __init__(self, stack: Stack, cfn: dict[str, Any], session: boto3.Session, endpoint_url: str | None) -> None:
        self.stack = stack
        self.cfn = cfn
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::IAM::Role": self._role,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Version": self._version,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Lambda::Alias": self._alias,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::SQS::Queue": self._queue,
            "AWS::Events::Rule": self._rule,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Connection": self._connection,
            "AWS::Events::ApiDestination": self._api_destination,
            "AWS::Lambda::EventSourceMapping": self._event_source,
        }
        self.secret_values: dict[str, str] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    # ------------------------------------------------------------------ driver
    def create_all(self) -> Stack:
        for name in self.cfn.get("Conditions", {}):
            self._condition(name)
        resources = self.cfn["Resources"]
        for logical_id in _creation_order(resources):
            resource = resources[logical_id]
            if resource.get("Condition") and not self.stack.conditions[resource["Condition"]]:
                continue
            kind = resource["Type"]
            if kind in SKIPPED_TYPES:
                continue
            if kind not in self._creators:
                raise NotImplementedError(f"the local stack cannot create {kind} ({logical_id}) yet")
            self._creators[kind](logical_id, self.resolve(resource.get("Properties", {})))
        return self.stack

    # ------------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value if item != {"Ref": "AWS::NoValue"}]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.stack.attributes[logical_id][attribute]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.stack.conditions[name] else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(item) for item in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Condition":
                return self._condition(arg)
        return {key: self.resolve(item) for key, item in value.items() if item != {"Ref": "AWS::NoValue"}}

    def _condition(self, name: str) -> bool:
        """A condition's value; conditions may name each other in any order, as in CloudFormation."""
        if name not in self.stack.conditions:
            self.stack.conditions[name] = bool(self.resolve(self.cfn["Conditions"][name]))
        return self.stack.conditions[name]

    def _ref(self, name: str) -> Any:
        region = self.stack.region
        pseudo = {
            "AWS::Region": self.stack.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack.name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{self.stack.name}/local",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        if name in self.cfn.get("Parameters", {}):
            return str(self.cfn["Parameters"][name].get("Default", ""))
        return self.stack.physical.get(name, f"local-{name}")

    def _sub(self, arg: Any) -> str:
        template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in variables:
                return str(variables[token])
            if "." in token:
                logical_id, attribute = token.split(".", 1)
                return str(self.stack.attributes[logical_id][attribute])
            return str(self._ref(token))

        return re.sub(r"\$\{([^!][^}]*)\}", replace, template)

    def _record(self, logical_id: str, physical_id: str, **attributes: str) -> None:
        self.stack.physical[logical_id] = physical_id
        self.stack.attributes[logical_id] = attributes

    def _name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.stack.name}-{logical_id}"[:limit]

    # ------------------------------------------------------------------ resource types
    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("TableName") or self._name(logical_id, 255)
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                kwargs[key] = props[key]
        if "StreamSpecification" in props:  # CloudFormation's has no StreamEnabled; the API needs it
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        description = self.client("dynamodb").create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            self.client("dynamodb").update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self._record(logical_id, name, Arn=description["TableArn"], StreamArn=description.get("LatestStreamArn", ""))

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        meta = self.client("kms").create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            self.client("kms").enable_key_rotation(KeyId=meta["KeyId"])
        self._record(logical_id, meta["KeyId"], Arn=meta["Arn"], KeyId=meta["KeyId"])

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        self._record(logical_id, props["AliasName"])

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        value = self.secret_values.get(logical_id) or props.get("SecretString") or _generated(props)
        arn = self.client("secretsmanager").create_secret(
            Name=props.get("Name") or self._name(logical_id, 512), SecretString=value
        )["ARN"]
        self._record(logical_id, arn, Id=arn)

    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self._name(logical_id)
        role = self.client("iam").create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )["Role"]
        self._record(logical_id, name, Arn=role["Arn"], RoleId=role["RoleId"])

    def _function(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("FunctionName") or self._name(logical_id)
        environment = props.get("Environment", {}).get("Variables", {})
        # The code never runs inside moto: invocations are routed to the real handler in-process.
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("README.txt", f"{logical_id} runs in-process in the local stack\n")
        config = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=props["Role"],
            Handler=props.get("Handler", "app.lambda_handler"),
            Code={"ZipFile": archive.getvalue()},
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Environment={"Variables": {key: str(value) for key, value in environment.items()}},
        )
        self.stack.function_environments[logical_id] = {key: str(value) for key, value in environment.items()}
        self._record(logical_id, name, Arn=config["FunctionArn"])

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or f"/{self.stack.name}/{logical_id}"
        self.client("logs").create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            self.client("logs").put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        arn = f"arn:aws:logs:{self.stack.region}:{ACCOUNT_ID}:log-group:{name}:*"
        self._record(logical_id, name, Arn=arn)

    def _version(self, logical_id: str, props: dict[str, Any]) -> None:
        version = self.client("lambda").publish_version(FunctionName=props["FunctionName"])
        self._record(logical_id, version["FunctionArn"], Version=version["Version"])

    def _alias(self, logical_id: str, props: dict[str, Any]) -> None:
        alias = self.client("lambda").create_alias(
            FunctionName=props["FunctionName"], Name=props["Name"], FunctionVersion=str(props["FunctionVersion"])
        )
        self._record(logical_id, alias["AliasArn"])

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        definition = props.get("DefinitionString")
        if isinstance(definition, dict):
            definition = json.dumps(definition)
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = props.get("StateMachineName") or self._name(logical_id, 80)
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=props["RoleArn"]
        )["stateMachineArn"]
        self._record(logical_id, arn, Arn=arn, Name=name)

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("QueueName") or self._name(logical_id, 80)
        url = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        arn = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._record(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _rule(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(logical_id)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if "ScheduleExpression" in props:
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        if "EventPattern" in props:
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        if "EventBusName" in props:
            kwargs["EventBusName"] = props["EventBusName"]
        arn = self.client("events").put_rule(**kwargs)["RuleArn"]
        if props.get("Targets") and "EventPattern" in props:  # scheduled targets run in local.schedules
            self.client("events").put_targets(
                Rule=name, EventBusName=props.get("EventBusName", "default"), Targets=props["Targets"]
            )
        self._record(logical_id, name, Arn=arn)

    def _event_bus(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(logical_id)
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        self._record(logical_id, name, Arn=arn, Name=name)

    def _connection(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(logical_id)
        arn = self.client("events").create_connection(
            Name=name, AuthorizationType=props["AuthorizationType"], AuthParameters=props["AuthParameters"]
        )["ConnectionArn"]
        self._record(logical_id, name, Arn=arn)

    def _api_destination(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(logical_id)
        arn = self.client("events").create_api_destination(
            Name=name,
            ConnectionArn=props["ConnectionArn"],
            InvocationEndpoint=props["InvocationEndpoint"],
            HttpMethod=props["HttpMethod"],
            InvocationRateLimitPerSecond=int(props.get("InvocationRateLimitPerSecond", 300)),
        )["ApiDestinationArn"]
        self._record(logical_id, name, Arn=arn)

    def _event_source(self, logical_id: str, props: dict[str, Any]) -> None:
        """Not created in moto (its own poller would invoke a function that is not there):
        ``local.streams`` reads the stream and invokes the function in-process, as Lambda would."""
        self.stack.event_sources[logical_id] = props
        self._record(logical_id, f"local-esm-{logical_id}")


def _generated(props: dict[str, Any]) -> str:
    """``GenerateSecretString``: a random string, or the template's JSON with it under the key."""
    generate = props.get("GenerateSecretString") or {}
    value = secrets.token_urlsafe(48)
    if "SecretStringTemplate" in generate:
        return json.dumps({**json.loads(generate["SecretStringTemplate"]), generate["GenerateStringKey"]: value})
    return value


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".", 1)[0])
            elif key == "Fn::Sub":
                template = item if isinstance(item, str) else item[0]
                found |= {token.split(".", 1)[0] for token in re.findall(r"\$\{([^!][^}]*)\}", template)}
                found |= _references(item if isinstance(item, str) else item[1])
            else:
                found |= _references(item)
        if "DependsOn" in value:
            depends = value["DependsOn"]
            found |= set([depends] if isinstance(depends, str) else depends)
    return found


def _creation_order(resources: dict[str, Any]) -> list[str]:
    """Dependencies first (a depth-first topological sort of Ref/GetAtt/Sub/DependsOn)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(logical_id: str) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            raise ValueError(f"circular reference through {logical_id}")
        state[logical_id] = "visiting"
        for dependency in sorted(_references(resources[logical_id]) & resources.keys()):
            visit(dependency)
        state[logical_id] = "done"
        order.append(logical_id)

    for logical_id in sorted(resources):
        visit(logical_id)
    return order
