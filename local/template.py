"""Read ``template.yaml``: CloudFormation YAML tags, the SAM -> CloudFormation transform, and the
facts the local stack needs (functions, their code and API routes, the authorizer)."""

from __future__ import annotations

import copy
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
ARTIFACT_BUCKET = "local-artifacts"


class _CfnLoader(yaml.SafeLoader):
    """YAML with the short intrinsic forms (``!Ref``, ``!GetAtt A.B``, ``!Sub`` ...)."""


def _intrinsic(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    # An alias (*Name) is one shared object to PyYAML; `sam deploy` uploads the template with
    # every alias written out (samcli's FlattenAliasDumper), and the translator edits policies in
    # place: give each use its own copy, as deployed.
    return json.loads(json.dumps(loaded))


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for names it does not know; the
    template uses none, and the local stack must not need network for it."""

    def load(self) -> dict[str, str]:
        return {}


def to_cloudformation(sam: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The SAM transform, offline. Local code paths become S3 URIs first, as ``sam package`` does."""
    from samtranslator.translator.transform import transform

    sam = copy.deepcopy(sam)
    for logical_id, resource in sam["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            # What `sam package` would upload, inlined: the translator then substitutes it.
            props["Definition"] = json.loads((REPO_ROOT / props.pop("DefinitionUri")).read_text())
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip"
    return transform(sam, parameters, _NoManagedPolicies())


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # logical id
    authorizer: str | None  # logical id of the authorizer function, None for public routes


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    schedules: tuple[str, ...]
    timeout_s: int = 3
    memory_mb: int = 128


def load_handler_module(spec: FunctionSpec, module_name: str) -> ModuleType:
    """A function's handler module, loaded from its code directory under ``module_name`` (many
    functions have an ``app.py``: each gets its own module object)."""
    path = spec.code_dir / f"{spec.handler.rpartition('.')[0]}.py"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path} for {spec.logical_id}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def functions(sam: dict[str, Any]) -> dict[str, FunctionSpec]:
    globals_fn = sam.get("Globals", {}).get("Function", {})
    specs = {}
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        schedules = tuple(
            event["Properties"].get("Schedule", "")
            for event in props.get("Events", {}).values()
            if event["Type"] in ("Schedule", "ScheduleV2")
        )
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=REPO_ROOT / props["CodeUri"],
            handler=props.get("Handler", globals_fn.get("Handler", "app.lambda_handler")),
            schedules=schedules,
            timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
        )
    return specs


def api_routes(sam: dict[str, Any]) -> list[Route]:
    resources = sam["Resources"]
    routes = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            props = event["Properties"]
            api = resources[props["RestApiId"]["Ref"]]["Properties"]
            auth = api.get("Auth", {})
            name = props.get("Auth", {}).get("Authorizer", auth.get("DefaultAuthorizer"))
            authorizer = None
            if name and name != "NONE":
                authorizer = auth["Authorizers"][name]["FunctionArn"]["Fn::GetAtt"][0]
            routes.append(Route(props["Method"].upper(), props["Path"], logical_id, authorizer))
    return routes


@dataclass(frozen=True)
class GatewayResponse:
    """One entry of the API's ``GatewayResponses``: what API Gateway answers by itself."""

    status: int | None
    body: str  # the application/json template
    headers: dict[str, str]  # header -> mapping expression (``'static'`` or ``method.request.header.X``)


def gateway_responses(sam: dict[str, Any]) -> dict[str, GatewayResponse]:
    """The API's GatewayResponses by response type (``DEFAULT_4XX``, ``UNAUTHORIZED``...)."""
    result = {}
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Api":
            for kind, spec in resource["Properties"].get("GatewayResponses", {}).items():
                status = spec.get("StatusCode")
                result[kind] = GatewayResponse(
                    int(status) if status else None,
                    spec["ResponseTemplates"]["application/json"],
                    dict((spec.get("ResponseParameters") or {}).get("Headers", {})),
                )
    return result
