"""Assemble the local stack: moto (serialized) + resources from the template + runtime + HTTP front."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from local import front, iam, provision, template
from local.event_delivery import EventDelivery
from local.runtime import Runtime
from local.schedules import Scheduler
from local.streams import StreamPoller

DEFAULT_STACK_NAME = "payments-local"
DEFAULT_REGION = "us-east-1"
#: The local stack's JWT secret unless JWT_SECRET_KEY is set; `make token` signs with the same.
DEFAULT_JWT_SECRET = "local-dev-secret-not-for-production"
LOCAL_MOCK_KEYS = {
    "MOCK_KEY_ID": "mock_key_local",
    "MOCK_KEY_SECRET": "mock_key_secret_local_only",
    "MOCK_WEBHOOK_SECRET": "mock_webhook_secret_local_only",
}


def local_jwt_secret() -> str:
    return os.environ.get("JWT_SECRET_KEY") or DEFAULT_JWT_SECRET


def fake_aws_environment(region: str = DEFAULT_REGION) -> dict[str, str]:
    """Credentials and switches for talking to moto. Never real credentials: nothing leaves the machine."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessWalletLocal",
    }


class _MotoLock:
    """moto is not atomic under concurrent requests (two threads can both pass a condition, a
    query can read an item another thread is updating in place); one lock around every request -
    over HTTP for ``make run``, in-process for the tests - keeps concurrency tests about our logic.
    On AWS, atomicity of conditional and transactional writes is DynamoDB's guarantee.

    Re-entrant for its holder, and let go while a request waits on something that calls moto
    itself: a Lambda invocation whose handler reads DynamoDB would otherwise wait for its caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner == me:  # re-entry: the outer hold releases
            yield
            return
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None

    @contextmanager
    def released(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner != me:
            yield
            return
        self._owner = None
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner = me


_moto_lock = _MotoLock()


class _SerializedApp:
    """moto's WSGI app, one request at a time (:class:`_MotoLock`)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with _moto_lock.held():
            return list(self._app(environ, start_response))


def _serialize_in_process_moto() -> None:
    """``mock_aws`` answers boto3 in the calling thread: the same lock around each request."""
    from moto.core.botocore_stubber import BotocoreStubber

    if getattr(BotocoreStubber.process_request, "_serialized", False):
        return
    original = BotocoreStubber.process_request

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with _moto_lock.held():
            return original(self, request)

    process_request._serialized = True  # type: ignore[attr-defined]
    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _route_account_endpoints_of_streams() -> None:
    """botocore calls DynamoDB Streams at its account-based endpoint
    (``<account>.streams-ddb.<region>.amazonaws.com``), which in-process moto (5.2) does not route;
    moto server routes by the request's target instead."""
    from moto import backend_index
    from moto.dynamodbstreams import urls

    pattern = r"https?://(.+)\.streams-ddb\.(.+)\.amazonaws\.com"
    if pattern not in urls.url_bases:
        urls.url_bases.append(pattern)
        backend_index.backend_url_patterns.insert(0, ("dynamodbstreams", re.compile(pattern)))


def moto_lock_released() -> AbstractContextManager[None]:
    return _moto_lock.released()


def configure_moto() -> None:
    """Step Functions executes the real ASL; Lambda needs no Docker (our runtime runs the code)."""
    from moto.core.config import default_user_config

    from local import moto_dynamodb

    moto_dynamodb.install()
    _route_account_endpoints_of_streams()
    _serialize_in_process_moto()
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}


def start_moto(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class _QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            """moto's access log would drown the API's; its errors still go to stderr."""

    configure_moto()
    app = _SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    bound_host, bound_port = server.server_address[:2]
    # moto's Step Functions engine calls Lambda through http://localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(bound_port)
    return server, f"http://{bound_host}:{bound_port}"


@dataclass
class Deployment:
    stack: provision.Stack
    runtime: Runtime
    sam: dict[str, Any]
    policies: iam.Policies


def deploy(
    stack_name: str = DEFAULT_STACK_NAME,
    endpoint_url: str | None = None,
    parameters: dict[str, str] | None = None,
    region: str = DEFAULT_REGION,
) -> Deployment:
    """Create every resource of ``template.yaml`` in moto (server at ``endpoint_url``, or the
    in-process mock when None), export the functions' environment, route Lambda invokes, and
    enforce each function's role on the calls it makes (``local.iam``)."""
    sam, stack, policies = _provision(stack_name, endpoint_url, parameters, region)
    # Test code (no function running) sees every function's variables; a running function sees
    # only its own (local.runtime hides the others), so one value per name is required.
    merged: dict[str, tuple[str, str]] = {}
    for logical_id, environment in stack.function_environments.items():
        for name, value in environment.items():
            first = merged.setdefault(name, (logical_id, value))
            if first[1] != value:
                raise ValueError(f"{name} differs between {first[0]} and {logical_id}; the local stack needs one value")
        os.environ.update(environment)
    iam.install(policies)
    runtime = Runtime(template.functions(sam), stack)
    runtime.route_moto_invocations(moto_lock_released)
    return Deployment(stack=stack, runtime=runtime, sam=sam, policies=policies)


def offline_policies(parameters: dict[str, str] | None = None) -> iam.Policies:
    """The roles of ``template.yaml`` as deployed (in a throwaway in-process moto): ``make iam``."""
    from moto import mock_aws

    configure_moto()
    # The translator asks boto3 for the region: `make iam` must not depend on the user's AWS setup.
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    with mock_aws():
        return _provision(DEFAULT_STACK_NAME, None, parameters, DEFAULT_REGION)[2]


def _provision(
    stack_name: str, endpoint_url: str | None, parameters: dict[str, str] | None, region: str
) -> tuple[dict[str, Any], provision.Stack, iam.Policies]:
    parameters = {"Environment": "dev", "EnableMockGateway": "true", **(parameters or {})}
    sam = template.load_template()
    cfn = template.to_cloudformation(sam, parameters)
    stack = provision.Stack(name=stack_name, region=region, parameters=parameters)
    provisioner = provision.Provisioner(stack, cfn, boto3.Session(region_name=region), endpoint_url)
    provisioner.secret_values["JwtSecret"] = local_jwt_secret()
    # Known keys for the local Mock, so that `make run` users and the tests can sign its
    # webhooks; a deployed stack generates its own (template MockGatewaySecret).
    provisioner.secret_values["MockGatewaySecret"] = json.dumps(LOCAL_MOCK_KEYS)
    provisioner.create_all()
    return sam, stack, iam.Policies.from_template(sam, cfn, provisioner.resolve, stack)


def make_gateway(deployment: Deployment, scheduler: Scheduler | None = None) -> front.ApiGateway:
    sam = deployment.sam
    gateway = front.ApiGateway(
        deployment.runtime,
        template.api_routes(sam),
        template.gateway_responses(sam),
        stage=deployment.stack.parameters["Environment"],
        region=deployment.stack.region,
    )
    gateway.scheduler = scheduler
    return gateway


def make_scheduler(deployment: Deployment) -> Scheduler:
    return Scheduler(deployment.runtime, template.functions(deployment.sam), deployment.stack.region)


def make_stream_poller(deployment: Deployment, start_at_latest: bool = False, invoke: Any = None) -> StreamPoller:
    """Lambda's stream event sources (the ledger stream -> DomainEventsFunction)."""
    return StreamPoller(deployment.stack, invoke or deployment.runtime.invoke, deployment.stack.region, start_at_latest)


def make_event_delivery(deployment: Deployment, **options: Any) -> EventDelivery:
    """The domain events on the stack's bus, delivered locally (see ``local.event_delivery``)."""
    return EventDelivery(deployment.stack, deployment.stack.region, **options)
