"""The HTTP front: API Gateway (REST, v1 proxy events) for the local stack.

Routes, the authorizer and the gateway error bodies all come from ``template.yaml``. A request
goes: match route -> (authorizer) -> proxy event -> handler -> HTTP response, like API Gateway.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local import api_docs
from local.runtime import FunctionError, Runtime
from local.schedules import Scheduler
from local.template import GatewayResponse, Route

ACCOUNT_ID = "123456789012"
_LOCAL_SCHEDULE = re.compile(r"^/_local/schedules/([A-Za-z0-9]+)$")
API_ID = "localapi"


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    resource: str


def _compile(route: Route) -> _CompiledRoute:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", route.path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return _CompiledRoute(route, re.compile(f"^{regex}/?$"), route.path)


class ApiGateway:
    def __init__(
        self,
        runtime: Runtime,
        routes: list[Route],
        responses: dict[str, GatewayResponse],
        stage: str,
        region: str,
    ) -> None:
        self.runtime = runtime
        self.routes = [_compile(route) for route in routes]
        self.responses = responses
        self.stage = stage
        self.region = region
        self.scheduler: Scheduler | None = None

    # ----------------------------------------------------------- gateway responses
    def gateway_response(
        self, kind: str, status: int, message: str, request_id: str, request_headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """What API Gateway answers by itself: the response of ``kind`` if the template has one,
        else its DEFAULT_4XX/5XX family, else API Gateway's own ``{"message": ...}``."""
        family = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        configured = self.responses.get(kind) or self.responses.get(family)
        context = {"error.message": message, "requestId": request_id}
        if configured is None:
            return status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        headers.update(render_response_headers(configured.headers, request_headers or {}))
        body = render_gateway_template(configured.body, context)
        return configured.status or status, headers, body.encode()

    # ----------------------------------------------------------- request handling
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        local = _LOCAL_SCHEDULE.match(split.path)
        if local and method == "POST" and self.scheduler is not None:
            return self._fire_schedule(local.group(1), request_id, body)
        if method == "GET" and split.path.startswith("/docs"):
            docs = api_docs.serve(split.path, f"http://{headers.get('Host') or headers.get('host') or '127.0.0.1'}")
            if docs is not None:
                return docs
        match = None
        for compiled in self.routes:
            found = compiled.pattern.match(split.path)
            if found and compiled.route.method in (method, "ANY"):
                match = (compiled, found.groupdict())
                break
        if match is None:
            return self.gateway_response(
                "MISSING_AUTHENTICATION_TOKEN",
                HTTPStatus.FORBIDDEN,
                "Missing Authentication Token",
                request_id,
                headers,
            )
        compiled, path_params = match
        authorizer_context: dict[str, Any] | None = None
        if compiled.route.authorizer:
            outcome = self._authorize(compiled, method, headers, request_id)
            if isinstance(outcome, tuple):
                return outcome
            authorizer_context = outcome
        event = self._proxy_event(
            compiled,
            method,
            split.path,
            split.query,
            headers,
            body,
            path_params,
            source_ip,
            request_id,
            authorizer_context,
        )
        try:
            result = self.runtime.invoke(compiled.route.function, event)
        except FunctionError as exc:
            print(
                f"[local] {compiled.route.function} failed: {exc.payload['errorType']}: {exc}\n"
                + "".join(exc.payload.get("stackTrace", [])[-4:]),
                file=sys.stderr,
            )
            return self.gateway_response(
                "DEFAULT_5XX", HTTPStatus.BAD_GATEWAY, "Internal server error", request_id, headers
            )
        return self._http_response(result, request_id, headers)

    def _fire_schedule(self, logical_id: str, request_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Local only: run a scheduled function now, as EventBridge would on its schedule; a JSON
        object in the body becomes the event's ``detail`` (a manual run's parameters)."""
        try:
            detail = json.loads(body) if body else {}
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return self.gateway_response(
                "BAD_REQUEST_BODY", HTTPStatus.BAD_REQUEST, "detail must be a JSON object", request_id
            )
        try:
            result = self.scheduler.fire(logical_id, detail)
        except KeyError:
            return self.gateway_response("DEFAULT_4XX", HTTPStatus.NOT_FOUND, f"No function {logical_id}", request_id)
        except FunctionError as exc:
            return (
                HTTPStatus.BAD_GATEWAY,
                {"Content-Type": "application/json"},
                json.dumps(exc.payload).encode(),
            )
        return HTTPStatus.OK, {"Content-Type": "application/json"}, json.dumps(result, default=str).encode()

    def _authorize(
        self, compiled: _CompiledRoute, method: str, headers: dict[str, str], request_id: str
    ) -> dict[str, Any] | tuple[int, dict[str, str], bytes]:
        token = _header(headers, "Authorization")
        if not token:
            return self.gateway_response("UNAUTHORIZED", HTTPStatus.UNAUTHORIZED, "Unauthorized", request_id, headers)
        api_arn = f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{API_ID}"
        method_arn = f"{api_arn}/{self.stage}/{method}{compiled.resource}"
        try:
            policy = self.runtime.invoke(
                compiled.route.authorizer,
                {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn},
            )
        except FunctionError as exc:
            if str(exc) == "Unauthorized":
                return self.gateway_response(
                    "UNAUTHORIZED", HTTPStatus.UNAUTHORIZED, "Unauthorized", request_id, headers
                )
            return self.gateway_response(
                "AUTHORIZER_FAILURE", HTTPStatus.INTERNAL_SERVER_ERROR, "Authorizer failure", request_id, headers
            )
        statements = policy.get("policyDocument", {}).get("Statement", [])
        if not any(statement.get("Effect") == "Allow" for statement in statements):
            return self.gateway_response("ACCESS_DENIED", HTTPStatus.FORBIDDEN, "Forbidden", request_id, headers)
        return {**policy.get("context", {}), "principalId": policy.get("principalId")}

    def _proxy_event(
        self,
        compiled: _CompiledRoute,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        path_params: dict[str, str],
        source_ip: str,
        request_id: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        multi_query = parse_qs(query, keep_blank_values=True)
        headers = {**headers, "X-Forwarded-Proto": "http", "X-Forwarded-For": source_ip}
        # API Gateway hands a body that is not text to the function base64-encoded (as it does for
        # binary media types); the function decides what to answer.
        try:
            text, encoded = (body.decode("utf-8") if body else None), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        request_context: dict[str, Any] = {
            "resourcePath": compiled.resource,
            "httpMethod": method,
            # Served at the root, as a custom domain without a base path would be.
            "path": path,
            "domainName": _header(headers, "Host") or "127.0.0.1",
            "stage": self.stage,
            "requestId": request_id,
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": _header(headers, "User-Agent")},
        }
        if authorizer is not None:
            request_context["authorizer"] = authorizer
        return {
            "resource": compiled.resource,
            "path": path,
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": {key: [value] for key, value in headers.items()} or None,
            "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text,
            "isBase64Encoded": encoded,
        }

    def _http_response(
        self, result: Any, request_id: str, request_headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if not isinstance(result, dict) or "statusCode" not in result:
            return self.gateway_response(
                "DEFAULT_5XX", HTTPStatus.BAD_GATEWAY, "Malformed Lambda proxy response", request_id, request_headers
            )
        headers = {key: str(value) for key, value in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(str(value) for value in values)
        headers["x-amzn-RequestId"] = request_id
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return int(result["statusCode"]), headers, payload


def render_gateway_template(template: str, context: dict[str, str]) -> str:
    """A gateway response template as API Gateway renders it: ``$context.x`` is the raw value,
    ``$context.error.messageString`` the message already in double quotes (a JSON string)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "error.messageString":
            return json.dumps(context.get("error.message", ""))
        return context.get(name, "")

    return re.sub(r"\$context\.([A-Za-z]+(?:\.[A-Za-z]+)*)", value, template)


def render_response_headers(mapping: dict[str, str], request_headers: dict[str, str]) -> dict[str, str]:
    """``ResponseParameters`` headers: ``'static'`` values, or ``method.request.header.X``
    copied from the request (left out when the request has no such header, as API Gateway does)."""
    rendered = {}
    for name, expression in mapping.items():
        if expression.startswith("'") and expression.endswith("'"):
            rendered[name] = expression[1:-1]
        elif expression.startswith("method.request.header."):
            found = _header(request_headers, expression.removeprefix("method.request.header."))
            if found:
                rendered[name] = found
    return rendered


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def make_server(gateway: ApiGateway, host: str, port: int, quiet: bool = False) -> ThreadingHTTPServer:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-api-gateway"
        # Headers and body go out in two writes: with Nagle's algorithm on, a kept-alive
        # connection waited for the client's delayed ACK (~40 ms) before every body.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key: value for key, value in self.headers.items()}
            status, response_headers, payload = gateway.handle(
                self.command, self.path, headers, body, self.client_address[0]
            )
            self.send_response(status)
            for key, value in response_headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, PROPFIND...) is API Gateway's to answer, with the template's
            # gateway response, not http.server's 501 HTML page.
            if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                sys.stderr.write(f"[local] {self.address_string()} {format % args}\n")

    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    return server
