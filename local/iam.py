"""IAM as AWS would apply it, for the local stack and the tests: moto enforces no policy at all.

Every AWS call a function makes is checked, when it is made, against the policies of that
function's own role in the transformed template - action *and* resource (indexes included) -
plus the KMS use AWS implies for a DynamoDB table or a secret encrypted with a customer-managed
key. A call the role does not allow fails like it would in AWS (``AccessDeniedException``), so the
test or the local request that made it fails too. Lambda invocations made by Step Functions are
checked against the state machine's role.

Every allowed call is also recorded (``IAM_TRACE_DIR``) so that ``make iam`` can print, per
function, the calls seen and the statements that allowed them, and fail on a statement no test
ever used (least privilege) unless the template marks it as needed, with a reason, in the
function's ``Metadata: {IamUnused: {<Sid>: <reason>}}``.

Not modelled: the AWS managed policies SAM attaches for the runtime itself (CloudWatch Logs,
X-Ray), explicit Deny, permission boundaries and SCPs (the template uses none). The one AWS
managed policy that grants what the stack needs, the stream reads of a DynamoDB event source
(made by Lambda with the function's role; ``local.streams`` makes them as the function), is
modelled with its content.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import fnmatch
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION, ACCOUNT = "us-east-1", "123456789012"
#: Which function (or state machine) the current call is made by; set by the local runtime.
principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_principal", default=None)
#: Set by a test that provokes a denial on purpose: the call still fails, and is not recorded.
expecting_denial: contextvars.ContextVar[bool] = contextvars.ContextVar("iam_expecting_denial", default=False)
_SERVICE_PREFIX = {"stepfunctions": "states", "dynamodbstreams": "dynamodb"}
#: AWS managed policies SAM attaches that allow calls of the stack's own (by their ARN's name).
_AWS_MANAGED = {
    "AWSLambdaDynamoDBExecutionRole": (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ),
}
_OPERATION_ACTION = {("lambda", "Invoke"): "InvokeFunction"}
_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems", "DescribeTable"})
_FREE = frozenset({("sts", "GetCallerIdentity")})


@dataclass(frozen=True)
class Requirement:
    """One permission a call needs: an action on a resource, with the request's context keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Statement:
    label: str  # the statement's Sid, or <policy>#<index>
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False, compare=False)

    def symbolic(self, symbol: Any) -> Statement:
        return Statement(self.label, self.actions, tuple(symbol(r) for r in self.resources), self.conditions)

    def allows(self, need: Requirement) -> bool:
        action = need.action.lower()
        if not any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in self.actions):
            return False
        if not any(_resource_matches(pattern, need.resource) for pattern in self.resources):
            return False
        return _conditions_hold(self.conditions, dict(need.context))


def _resource_matches(pattern: str, resource: str) -> bool:
    if resource == "*":  # an action without resource-level permissions: only "*" covers it
        return pattern == "*"
    return pattern == "*" or fnmatch.fnmatchcase(resource, pattern)


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            values = expected if isinstance(expected, list) else [expected]
            actual = context.get(key)
            if actual is None:
                return False
            if operator == "StringEquals" and actual not in values:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(actual, value) for value in values):
                return False
            if operator not in ("StringEquals", "StringLike"):
                return False  # not modelled: refuse rather than allow by mistake
    return True


@dataclass
class Policies:
    """Each principal's statements and what the stack encrypts with which key, in symbolic form:
    every ARN of a stack resource is written ``<LogicalId>`` (``<LedgerTable>/index/by-time``), so
    that traces from any deployment (the tests', ``make run``'s) read against the same policies."""

    statements: dict[str, list[Statement]]
    exempt: dict[str, dict[str, str]]  # principal -> {Sid: reason} (IamUnused metadata)
    symbols: list[tuple[str, str]]  # concrete ARN or name -> <LogicalId>, longest first
    names: dict[str, str]  # physical name (table, function, secret) -> <LogicalId>
    encrypted_by: dict[str, str]  # <Table> or <Secret> -> the customer-managed key encrypting it
    keys: list[str]  # customer-managed keys (<LogicalId>)
    state_machines: list[str]  # logical ids

    @classmethod
    def from_template(cls, sam: dict[str, Any], cfn: dict[str, Any], resolve: Any, stack: Any) -> Policies:
        """``resolve`` resolves intrinsics against ``stack`` (physical ids and attributes by logical id)."""
        resources = cfn["Resources"]
        symbols: dict[str, str] = {}
        names: dict[str, str] = {}
        encrypted_by: dict[str, str] = {}
        keys: list[str] = []
        machines: list[str] = []
        for logical_id, resource in resources.items():
            if logical_id not in stack.physical:
                continue  # not created (a condition left it out, or no local meaning)
            kind, token, physical = resource["Type"], f"<{logical_id}>", stack.physical[logical_id]
            if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
                continue  # IAM sees function:<name>:<qualifier>, i.e. <Function>:live
            arn = stack.attributes.get(logical_id, {}).get("Arn") or physical
            symbols[arn] = token
            if kind == "AWS::DynamoDB::Table":
                names[physical] = token
                if stream := stack.attributes.get(logical_id, {}).get("StreamArn"):
                    symbols[stream] = f"{token}/stream/<label>"  # the label is the creation time
            elif kind == "AWS::SecretsManager::Secret":
                names[physical] = token
                names[physical.rsplit(":secret:", 1)[-1]] = token
            elif kind == "AWS::Lambda::Function":
                names[physical] = token
            elif kind == "AWS::KMS::Key":
                symbols[physical] = token
                keys.append(token)
            elif kind == "AWS::Logs::LogGroup":  # its Arn attribute ends in ":*"; IAM names it without
                symbols[f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical}"] = token
            elif kind == "AWS::StepFunctions::StateMachine":
                symbols[arn.replace(":stateMachine:", ":execution:")] = f"<{logical_id}:execution>"
                machines.append(logical_id)
        policies = cls({}, {}, sorted(symbols.items(), key=lambda pair: -len(pair[0])), names, {}, keys, machines)
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::DynamoDB::Table" and logical_id in stack.physical:
                key = (props.get("SSESpecification") or {}).get("KMSMasterKeyId")
                if key:
                    encrypted_by[f"<{logical_id}>"] = policies.symbol(_key_arn(str(resolve(key))))
            elif resource["Type"] == "AWS::SecretsManager::Secret" and props.get("KmsKeyId"):
                encrypted_by[f"<{logical_id}>"] = policies.symbol(_key_arn(str(resolve(props["KmsKeyId"]))))
        policies.encrypted_by = encrypted_by
        for logical_id, resource in resources.items():
            if resource["Type"] not in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
                continue
            role = resources.get(f"{logical_id}Role")
            if role is None or logical_id not in stack.physical:
                continue
            found = []
            for policy in role["Properties"].get("Policies", []):
                policy = resolve(policy)
                if isinstance(policy, dict) and "PolicyDocument" in policy:  # else an Fn::If gave AWS::NoValue
                    found += _statements(policy["PolicyName"], policy["PolicyDocument"])
            for arn in role["Properties"].get("ManagedPolicyArns", []):
                if isinstance(arn, dict) and "Ref" in arn:  # a customer-managed policy of the template
                    managed = resources[arn["Ref"]]["Properties"]["PolicyDocument"]
                    found += _statements(arn["Ref"], resolve(managed))
                elif isinstance(arn, str) and arn.rsplit("/", 1)[-1] in _AWS_MANAGED:
                    name = arn.rsplit("/", 1)[-1]
                    found.append(Statement(name, _AWS_MANAGED[name], ("*",)))
            policies.statements[logical_id] = [statement.symbolic(policies.symbol) for statement in found]
            metadata = sam["Resources"].get(logical_id, {}).get("Metadata", {})
            policies.exempt[logical_id] = dict(metadata.get("IamUnused", {}))
        return policies

    def symbol(self, resource: str) -> str:
        """``arn:aws:dynamodb:...:table/payments-ledger/index/x`` -> ``<LedgerTable>/index/x``."""
        for concrete, token in self.symbols:
            if resource == concrete or resource.startswith((concrete + "/", concrete + ":", concrete + "*")):
                return token + resource[len(concrete) :]
        return resource

    # ---------------------------------------------------------------- what a call needs
    def requirements(self, service: str, operation: str, params: dict[str, Any]) -> list[Requirement]:
        if (service, operation) in _FREE:
            return []
        prefix = _SERVICE_PREFIX.get(service, service)
        action = f"{prefix}:{_OPERATION_ACTION.get((service, operation), operation)}"
        if service == "dynamodb":
            return self._dynamodb(operation, params)
        if service == "kms":
            key = params.get("KeyId")
            resource = self.symbol(_key_arn(str(key))) if key else (self.keys[0] if len(self.keys) == 1 else "*")
            return [Requirement(action, resource)]
        if service == "secretsmanager":
            secret = str(params.get("SecretId", ""))
            secret = self.names.get(secret) or self.symbol(secret)
            return [Requirement(action, secret), *self._implied(secret, "secretsmanager", write=False)]
        if service == "lambda":
            name = str(params.get("FunctionName", ""))
            return [Requirement(action, self.names.get(name) or self.symbol(name))]
        if service == "stepfunctions":
            if "executionArn" in params:
                return [Requirement(action, self.symbol(str(params["executionArn"])))]
            if "stateMachineArn" in params:
                return [Requirement(action, self.symbol(str(params["stateMachineArn"])))]
            # SendTask* support no resource-level permission: IAM evaluates them against "*",
            # so only a statement with Resource "*" allows them.
            return [Requirement(action, "*")]
        if service == "dynamodbstreams":
            stream = str(params.get("StreamArn") or str(params.get("ShardIterator", "")).split("|", 1)[0] or "*")
            return [Requirement(action, self.symbol(stream))]
        if service == "sqs" and "QueueUrl" in params:
            queue = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
            return [Requirement(action, self.symbol(f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))]
        if service == "events" and operation == "PutEvents":
            buses = {str(entry.get("EventBusName") or "default") for entry in params.get("Entries", [])}
            return [Requirement(action, self.symbol(_bus_arn(bus))) for bus in sorted(buses)]
        if service == "logs" and "logGroupName" in params:
            # Stream-level actions name the stream; the others the group (Service Authorization
            # Reference, CloudWatch Logs resource types log-stream and log-group).
            group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{params['logGroupName']}"
            if "logStreamName" in params and operation in ("CreateLogStream", "PutLogEvents", "GetLogEvents"):
                return [Requirement(action, self.symbol(f"{group}:log-stream:{params['logStreamName']}"))]
            return [Requirement(action, self.symbol(group))]
        if service == "ssm" and "Name" in params:
            name = str(params["Name"]).lstrip("/")
            return [Requirement(action, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}")]
        return [Requirement(action, "*")]

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> list[Requirement]:
        needs: list[tuple[str, str]] = []
        if operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    needs.append((kind if kind.endswith("Item") else f"{kind}Item", body["TableName"]))
        elif operation == "TransactGetItems":
            needs = [("GetItem", item["Get"]["TableName"]) for item in params.get("TransactItems", [])]
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            needs = [(operation, table) for table in params.get("RequestItems", {})]
        else:
            needs = [(operation, str(params.get("TableName", "")))]
        result = []
        for op, table in needs:
            table_arn = self.names.get(table) or self.symbol(table)
            resource = f"{table_arn}/index/{params['IndexName']}" if params.get("IndexName") else table_arn
            result.append(Requirement(f"dynamodb:{op}", resource))
            result += self._implied(table_arn, "dynamodb", write=op not in _READS)
        return sorted(set(result), key=lambda need: (need.action, need.resource))

    def _implied(self, resource: str, service: str, write: bool) -> list[Requirement]:
        """A customer-managed key encrypting the resource is used by AWS on the caller's behalf."""
        key = self.encrypted_by.get(resource)
        if key is None:
            return []
        context = (("kms:ViaService", f"{service}.{REGION}.amazonaws.com"),)
        needs = [Requirement("kms:Decrypt", key, context)]
        if write:
            needs += [Requirement("kms:GenerateDataKey", key, context), Requirement("kms:Encrypt", key, context)]
        return needs

    def allowing(self, who: str, need: Requirement, without: str | None = None) -> list[str]:
        return [s.label for s in self.statements.get(who, []) if s.label != without and s.allows(need)]


def _statements(policy_name: str, document: dict[str, Any]) -> list[Statement]:
    raw = document.get("Statement", [])
    found = []
    for index, statement in enumerate(raw if isinstance(raw, list) else [raw]):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", "*")
        label = statement.get("Sid") or f"{policy_name}#{index}"
        if policy_name.endswith("EventInvokeConfigOnFailureSQSPolicy"):
            label = "FailureDestination"  # SAM's grant for EventInvokeConfig's OnFailure queue
        elif policy_name.endswith("SQSPolicy"):
            label = "StreamFailureDestination"  # SAM's grant for an event source's OnFailure queue
        found.append(
            Statement(
                label,
                tuple(actions if isinstance(actions, list) else [actions]),
                tuple(str(r) for r in (resources if isinstance(resources, list) else [resources])),
                statement.get("Condition", {}),
            )
        )
    return found


def _bus_arn(bus: str) -> str:
    return bus if bus.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"


def _key_arn(key: str) -> str:
    if key.startswith("arn:"):
        return key
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"


# -------------------------------------------------------------------- enforcing, and recording
_policies: Policies | None = None
_seen: set[tuple[str, str, str, tuple[tuple[str, str], ...]]] = set()
_denied: set[tuple[str, str, str]] = set()


def install(policies: Policies) -> None:
    """Check every AWS call made by a principal of the stack; record what it needed."""
    import botocore.client
    from botocore.exceptions import ClientError

    global _policies
    first = _policies is None
    _policies = policies
    if not first:
        return
    original = botocore.client.BaseClient._make_api_call
    # LOCAL_IAM=record notes denials without refusing (to list every gap of a template at once).
    enforce = os.environ.get("LOCAL_IAM", "enforce") != "record"

    def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
        who = _service_principal(client) or principal.get()
        if who is not None and _policies is not None:
            service = client.meta.service_model.service_name
            for need in _policies.requirements(service, operation, params):
                allowed = bool(_policies.allowing(who, need))
                if allowed or not expecting_denial.get():  # an expected refusal is no gap to report
                    _seen.add((who, need.action, need.resource, need.context))
                if not allowed:
                    if not expecting_denial.get():
                        _denied.add((who, need.action, need.resource))
                    if not enforce:
                        continue
                    message = f"{who} is not authorized to perform: {need.action} on resource: {need.resource}"
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = checked  # type: ignore[method-assign]
    atexit.register(_write_trace)


@contextlib.contextmanager
def denial_expected() -> Iterator[None]:
    """For a test that makes a call its role must refuse: refused, not reported as a gap."""
    token = expecting_denial.set(True)
    try:
        yield
    finally:
        expecting_denial.reset(token)


def _service_principal(client: Any) -> str | None:
    """moto's Step Functions engine calls Lambda with its own client, signed with the access key
    "ak": those calls are the state machine's (its role must allow invoking each task)."""
    credentials = getattr(client._request_signer, "_credentials", None)
    if _policies is None or credentials is None or getattr(credentials, "access_key", None) != "ak":
        return None
    return _policies.state_machines[0] if len(_policies.state_machines) == 1 else None


def _write_trace() -> None:
    folder = os.environ.get("IAM_TRACE_DIR")
    if not folder or not _seen:
        return
    path = Path(folder) / f"trace-{os.getpid()}.jsonl"
    with path.open("a") as sink:
        for who, action, resource, context in sorted(_seen):
            sink.write(
                json.dumps({"principal": who, "action": action, "resource": resource, "context": context}) + "\n"
            )
        for who, action, resource in sorted(_denied):
            sink.write(json.dumps({"principal": who, "denied": action, "resource": resource}) + "\n")


# -------------------------------------------------------------------- make iam
def _traces(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("trace-*.jsonl")):
        for line in path.read_text().splitlines():
            yield json.loads(line)


def report(policies: Policies, folder: Path, without: str | None = None) -> int:
    """Print, per principal, the calls seen and the statements allowing them; return 1 when a call
    would be denied or a statement is not needed. ``without="Principal:Label"`` evaluates as if
    that statement were removed (the mutation check).

    A statement is needed when some call is allowed by it alone (so removing it breaks that call),
    and each of its actions and resources is used by some call; otherwise it is too broad or
    redundant, unless the function's ``Metadata: IamUnused`` says why it stays."""
    drop_who, _, drop_label = (without or "").partition(":")
    calls, failures = _calls(folder)
    for who in sorted(policies.statements):
        skip = drop_label if who == drop_who else None
        print(f"\n{who}")
        sole: set[str] = set()
        used: dict[str, list[Requirement]] = defaultdict(list)
        for need in sorted(calls.get(who, ()), key=lambda n: (n.action, n.resource)):
            allowed = policies.allowing(who, need, skip)
            for label in allowed:
                used[label].append(need)
            if len(allowed) == 1:
                sole.add(allowed[0])
            print(f"  {need.action:34s} {_short(need.resource):58s} <- {', '.join(allowed) or 'DENIED'}")
            if not allowed:
                failures.append(f"{who}: {need.action} on {need.resource} would be denied")
        for statement in policies.statements[who]:
            if statement.label == skip:
                continue
            problem = _unneeded(statement, used.get(statement.label, []), statement.label in sole)
            if not problem:
                continue
            reason = policies.exempt.get(who, {}).get(statement.label)
            if reason:
                print(f"  (kept although {problem}: {statement.label}: {reason})")
            else:
                failures.append(f"{who}: statement {statement.label} {problem}")
    print()
    for failure in failures:
        print(f"FAIL {failure}")
    print(
        f"{len(policies.statements)} principals, {len(calls)} with calls, "
        f"{sum(len(v) for v in calls.values())} distinct permissions used, {len(failures)} failures"
    )
    return 1 if failures else 0


def _calls(folder: Path) -> tuple[dict[str, set[Requirement]], list[str]]:
    """The permissions each principal used in the traced runs, and the denials they met."""
    calls: dict[str, set[Requirement]] = defaultdict(set)
    denials: list[str] = []
    for record in _traces(folder):
        if "denied" in record:
            denials.append(f"denied during the tests: {record['principal']} {record['denied']} on {record['resource']}")
            continue
        context = tuple(tuple(pair) for pair in record["context"])
        calls[record["principal"]].add(Requirement(record["action"], record["resource"], context))
    return calls, denials


def mutations(policies: Policies, folder: Path) -> int:
    """Remove each statement of each principal in turn: every removal must deny some traced
    call (so ``make iam`` would fail), except statements kept with a reason (``IamUnused``)."""
    calls, _ = _calls(folder)
    survivors, kept = [], 0
    for who in sorted(policies.statements):
        for statement in policies.statements[who]:
            broken = [need for need in calls.get(who, ()) if policies.allowing(who, need) == [statement.label]]
            reason = policies.exempt.get(who, {}).get(statement.label)
            if broken:
                first = min(broken, key=lambda need: (need.action, need.resource))
                example = f"{first.action} on {first.resource}"
                print(f"  without {who}:{statement.label}: {len(broken)} call(s) denied, e.g. {example}")
            elif reason:
                kept += 1
                print(f"  without {who}:{statement.label}: no call denied (kept: {reason})")
            else:
                survivors.append(f"{who}:{statement.label}")
    for survivor in survivors:
        print(f"FAIL removing {survivor} denies no call: the check would not notice it gone")
    total = sum(len(statements) for statements in policies.statements.values())
    caught = total - kept - len(survivors)
    print(
        f"{total} statements removed one at a time: {caught} denied a traced call, "
        f"{kept} kept with a reason (IamUnused), {len(survivors)} unnoticed"
    )
    return 1 if survivors else 0


def _unneeded(statement: Statement, uses: list[Requirement], sole: bool) -> str | None:
    if not uses:
        return f"({', '.join(statement.actions)}) is never used"
    unused_actions = [
        pattern
        for pattern in statement.actions
        if not any(fnmatch.fnmatchcase(use.action.lower(), pattern.lower()) for use in uses)
    ]
    if unused_actions:
        return f"grants {', '.join(unused_actions)} that no call uses"
    unused_resources = [
        pattern for pattern in statement.resources if not any(_resource_matches(pattern, use.resource) for use in uses)
    ]
    if unused_resources:
        return f"grants {', '.join(unused_resources)} that no call uses"
    if not sole:
        return "is redundant: every call it allows is also allowed by another statement"
    return None


def _short(arn: str) -> str:
    return re.sub(r"arn:aws:[a-z0-9-]+:us-east-1:123456789012:", "", arn)


def main(argv: list[str]) -> int:
    """``python -m local.iam <trace dir> [--without Principal:Label | --mutations]``"""
    from local import stack

    folder = Path(argv[0])
    if not any(folder.glob("trace-*.jsonl")):
        print(f"no traces in {folder}: run the tests with IAM_TRACE_DIR={folder} first (make iam does)")
        return 2
    if "--mutations" in argv:
        return mutations(stack.offline_policies(), folder)
    without = argv[argv.index("--without") + 1] if "--without" in argv else None
    return report(stack.offline_policies(), folder, without)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
