"""Run the template's functions in-process, one "container" per function, as Lambda would.

Each handler module is imported once (a cold start) and invoked with a Lambda-like context.
Invocations of one function are serialized, like one warm container; different functions run
concurrently. moto's Docker-free Lambda backend only echoes payloads, so Lambda invocations that
reach moto (``lambda.invoke``, Step Functions tasks) are routed here too.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

from local import iam
from local.provision import Stack
from local.template import FunctionSpec, load_handler_module

Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """The attributes Powertools and our handlers read from the real context object."""

    def __init__(self, function_name: str, function_arn: str, timeout_s: int = 10, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class FunctionError(Exception):
    """A handler raised; carries the Lambda-style error payload."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload.get("errorMessage", "error"))
        self.payload = payload


def isolate_powertools_resolvers() -> None:
    """Powertools keeps the event being resolved on the ``BaseRouter`` *class* (one process is
    one Lambda container, so that is safe in AWS). Here many functions run in one process at
    once, so each resolver gets the event on its own instance, which the class value cannot
    override; each function's invocations are serialized, so per instance is per invocation."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    if getattr(ApiGatewayResolver.resolve, "_isolated", False):
        return
    original = ApiGatewayResolver.resolve

    def resolve(self: ApiGatewayResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.__dict__["current_event"] = self._to_proxy_event(event)
        self.__dict__["lambda_context"] = context
        return original(self, event, context)

    resolve._isolated = True  # type: ignore[attr-defined]
    ApiGatewayResolver.resolve = resolve  # type: ignore[method-assign]


def isolate_powertools_parameters() -> None:
    """Powertools caches secrets and parameters in module-level providers: in one process running
    every function, a secret fetched by one function would be served to another from the cache,
    without the AWS call its role may not allow. Each function gets its own providers, as its own
    Lambda container would."""
    import sys

    import aws_lambda_powertools.utilities.parameters  # noqa: F401 - imports every provider module
    from aws_lambda_powertools.utilities.parameters import constants

    shared = constants.DEFAULT_PROVIDERS
    if isinstance(shared, _PerFunction):
        return
    per_function = _PerFunction()
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("aws_lambda_powertools.utilities.parameters")
            and getattr(module, "DEFAULT_PROVIDERS", None) is shared
        ):
            module.DEFAULT_PROVIDERS = per_function  # type: ignore[attr-defined]


class _PerFunction(dict):  # type: ignore[type-arg]
    """``DEFAULT_PROVIDERS`` keyed by the running function (``iam.principal``) as well."""

    def _key(self, name: Any) -> Any:
        return (iam.principal.get(), name)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(self._key(name))

    def __getitem__(self, name: Any) -> Any:
        return super().__getitem__(self._key(name))

    def __setitem__(self, name: Any, value: Any) -> None:
        super().__setitem__(self._key(name), value)

    def get(self, name: Any, default: Any = None) -> Any:
        return super().get(self._key(name), default)


class Runtime:
    def __init__(self, specs: dict[str, FunctionSpec], stack: Stack) -> None:
        isolate_powertools_resolvers()
        isolate_powertools_parameters()
        self._specs = specs
        everyone = {name for environment in stack.function_environments.values() for name in environment}
        #: Per function, the variables only other functions have (see ``settings.hidden_variables``).
        self._hidden = {
            logical_id: frozenset(everyone - stack.function_environments.get(logical_id, {}).keys())
            for logical_id in specs
        }
        self._stack = stack
        self._modules: dict[str, ModuleType] = {}
        self._locks = {logical_id: threading.Lock() for logical_id in specs}
        self._import_lock = threading.Lock()
        self._by_physical = {
            stack.physical[logical_id]: logical_id for logical_id in specs if logical_id in stack.physical
        }

    @property
    def function_names(self) -> dict[str, str]:
        """Logical id -> physical (moto) function name."""
        return {logical: physical for physical, logical in self._by_physical.items()}

    def handler(self, logical_id: str) -> Handler:
        with self._import_lock:
            if logical_id not in self._modules:
                self._modules[logical_id] = load_handler_module(self._specs[logical_id], f"lambda_{logical_id}")
        return getattr(self._modules[logical_id], self._specs[logical_id].handler.rpartition(".")[2])

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Call the handler; raise :class:`FunctionError` with Lambda's error shape if it raises."""
        handler = self.handler(logical_id)
        spec = self._specs[logical_id]
        name = self._stack.physical.get(logical_id, logical_id)
        arn = self._stack.attributes.get(logical_id, {}).get("Arn", name)
        from payments.platform.observability import logger
        from payments.platform.settings import hidden_variables

        with self._locks[logical_id]:
            as_principal = iam.principal.set(logical_id)
            hidden = hidden_variables.set(self._hidden.get(logical_id, frozenset()))
            # One process runs every function: a function invoked from inside another (the Mock
            # delivering a webhook) must not leave the caller's log keys cleared or replaced.
            log_keys = dict(logger.registered_formatter.log_format)
            try:
                return handler(event, LambdaContext(name, arn, spec.timeout_s, spec.memory_mb))
            except Exception as exc:
                raise FunctionError(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_tb(exc.__traceback__),
                    }
                ) from exc
            finally:
                logger.registered_formatter.log_format = log_keys
                hidden_variables.reset(hidden)
                iam.principal.reset(as_principal)

    def invoke_by_name(self, function_name: str, event: Any) -> Any:
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        return self.invoke(self._by_physical.get(name, name), event)

    def route_moto_invocations(self, around: Callable[[], AbstractContextManager[None]]) -> None:
        """Make moto's Docker-free Lambda backend (``lambda.invoke``, Step Functions tasks) run our
        handlers instead of echoing the payload. ``around`` wraps each call (the local stack
        releases moto's request lock there, since the handler calls moto itself)."""
        from moto.awslambda_simple.models import LambdaSimpleBackend

        runtime = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            payload = json.loads(body) if body else {}
            try:
                with around():
                    result = runtime.invoke_by_name(function_name, payload)
            except FunctionError as exc:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(exc.payload).encode()
            return json.dumps(result).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
