"""Step Functions for the fault sweep: the real ``statemachines/withdrawal.asl.json`` run by a
small synchronous interpreter on the sweep's virtual clock, behind a client with the calls our
code makes (StartExecution, SendTaskSuccess, DescribeExecution) and their AWS error semantics.

moto's engine runs the same ASL in the e2e tests, in real time and in threads; the sweep needs
thousands of executions, each stopped at an exact point, so it interprets the states it uses:
Task (Lambda and ``lambda:invoke.waitForTaskToken`` with ``TimeoutSecondsPath``), Choice and
Succeed, with Parameters, ResultPath, Retry and Catch as Step Functions defines them. Retry
intervals take no time: the sweep is about order and outcome, not about waiting.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.template import REPO_ROOT

ASL = REPO_ROOT / "statemachines" / "withdrawal.asl.json"
#: ``${RiskCheckFunctionArn}`` -> the function's logical id, as the template substitutes them.
FUNCTIONS = {
    "RiskCheckFunctionArn": "WithdrawalRiskCheckFunction",
    "AwaitDecisionFunctionArn": "WithdrawalAwaitDecisionFunction",
    "RequestPayoutFunctionArn": "WithdrawalRequestPayoutFunction",
    "VerifyPayoutFunctionArn": "WithdrawalVerifyPayoutFunction",
    "SettleFunctionArn": "WithdrawalSettleFunction",
    "ReleaseFunctionArn": "WithdrawalReleaseFunction",
}
#: What Step Functions reports when the function itself died (out of time, out of memory).
DIED = "Sandbox.Timedout"

Invoke = Callable[[str, dict[str, Any]], Any]  # (logical id, payload) -> result; raises TaskFailed


class TaskFailed(Exception):
    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class _AwsError(Exception):
    """Errors the client raises, named like botocore's modelled exceptions."""


class ExecutionAlreadyExists(_AwsError):
    pass


class ExecutionDoesNotExist(_AwsError):
    pass


class TaskDoesNotExist(_AwsError):
    pass


class TaskTimedOut(_AwsError):
    pass


class InvalidToken(_AwsError):
    pass


@dataclass
class Execution:
    name: str
    input: dict[str, Any]
    state: str
    data: dict[str, Any]
    status: str = "RUNNING"
    token: str | None = None  # the task token a waiting state waits with
    waiting_since: datetime | None = None
    timeout_s: int | None = None
    result: dict[str, Any] | None = None  # delivered by SendTaskSuccess, consumed by the next advance
    attempts: dict[str, int] = field(default_factory=dict)


class StepFunctions:
    """The slice of the Step Functions API the withdrawal code uses, over the interpreter."""

    class exceptions:
        ExecutionAlreadyExists = ExecutionAlreadyExists
        ExecutionDoesNotExist = ExecutionDoesNotExist
        TaskDoesNotExist = TaskDoesNotExist
        TaskTimedOut = TaskTimedOut
        InvalidToken = InvalidToken

    def __init__(self, invoke: Invoke, now: Callable[[], datetime], around: Callable[[str, Callable[[], Any]], Any]):
        self._definition = json.loads(ASL.read_text())
        self._invoke = invoke
        self._now = now
        self._around = around  # the fault injector's boundary for every API call
        self.executions: dict[str, Execution] = {}
        self._tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ the API
    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            existing = self.executions.get(name)
            if existing is not None:
                if existing.status == "RUNNING" and existing.input == json.loads(input):
                    return {"executionArn": f"{stateMachineArn}:{name}"}  # idempotent, as on AWS
                raise ExecutionAlreadyExists(name)
            payload = json.loads(input)
            self.executions[name] = Execution(name, payload, self._definition["StartAt"], copy.deepcopy(payload))
            return {"executionArn": f"{stateMachineArn}:{name}"}

        return self._around("StartExecution", call)

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            execution = self.executions.get(executionArn.rsplit(":", 1)[-1])
            if execution is None:
                raise ExecutionDoesNotExist(executionArn)
            return {"status": execution.status}

        return self._around("DescribeExecution", call)

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            name = self._tokens.get(taskToken)
            execution = self.executions.get(name or "")
            if execution is None:
                raise InvalidToken(taskToken)
            if execution.status != "RUNNING" or execution.token != taskToken:
                raise TaskTimedOut(taskToken)
            execution.result = json.loads(output)
            execution.token = None
            return {}

        return self._around("SendTaskSuccess", call)

    # ------------------------------------------------------------------ the interpreter
    def advance(self) -> bool:
        """Run every execution until it waits or ends; True when any of them moved."""
        moved = False
        for execution in list(self.executions.values()):
            while execution.status == "RUNNING" and self._step(execution):
                moved = True
        return moved

    def waiting(self) -> list[Execution]:
        return [execution for execution in self.executions.values() if execution.status == "RUNNING"]

    def _step(self, execution: Execution) -> bool:
        state = self._definition["States"][execution.state]
        kind = state["Type"]
        if kind == "Succeed":
            execution.status = "SUCCEEDED"
            return True
        if kind == "Choice":
            execution.state = _choose(state, execution.data)
            return True
        if state["Resource"].endswith(".waitForTaskToken"):
            return self._wait_task(execution, state)
        return self._task(
            execution, state, lambda: self._invoke(_function(state["Resource"]), _input(state, execution))
        )

    def _wait_task(self, execution: Execution, state: dict[str, Any]) -> bool:
        if execution.token is None and execution.result is None and execution.waiting_since is None:
            token = uuid.uuid4().hex
            payload = _resolve(state["Parameters"]["Payload"], execution.data, token)
            execution.token, execution.waiting_since = token, self._now()
            path = state.get("TimeoutSecondsPath")
            execution.timeout_s = int(_path(execution.data, path)) if path else None
            self._tokens[token] = execution.name
            try:
                self._invoke(_function(state["Parameters"]["FunctionName"]), payload)
            except TaskFailed as failure:
                execution.token, execution.waiting_since = None, None
                return self._failed(execution, state, failure)
            return True
        if execution.result is not None:
            result, execution.result, execution.waiting_since = execution.result, None, None
            return self._succeeded(execution, state, result)
        if execution.timeout_s is not None and self._now() - execution.waiting_since >= timedelta(
            seconds=execution.timeout_s
        ):
            execution.token, execution.waiting_since = None, None
            return self._failed(execution, state, TaskFailed("States.Timeout", "the task timed out"))
        return False  # still waiting

    def _task(self, execution: Execution, state: dict[str, Any], run: Callable[[], Any]) -> bool:
        try:
            result = run()
        except TaskFailed as failure:
            return self._failed(execution, state, failure)
        return self._succeeded(execution, state, result)

    def _succeeded(self, execution: Execution, state: dict[str, Any], result: Any) -> bool:
        execution.attempts.pop(execution.state, None)
        _set(execution.data, state.get("ResultPath", "$"), result)
        execution.state = state["Next"]
        return True

    def _failed(self, execution: Execution, state: dict[str, Any], failure: TaskFailed) -> bool:
        for retry in state.get("Retry", []):
            if _matches(retry["ErrorEquals"], failure.error):
                attempts = execution.attempts.get(execution.state, 0)
                if attempts < retry.get("MaxAttempts", 3):
                    execution.attempts[execution.state] = attempts + 1
                    return True  # the same state again (Retry)
                break
        execution.attempts.pop(execution.state, None)
        for catch in state.get("Catch", []):
            if _matches(catch["ErrorEquals"], failure.error):
                _set(execution.data, catch.get("ResultPath", "$"), {"Error": failure.error, "Cause": failure.cause})
                execution.state = catch["Next"]
                return True
        execution.status = "TIMED_OUT" if failure.error == "States.Timeout" else "FAILED"
        return True


def _function(resource: str) -> str:
    return FUNCTIONS[resource.removeprefix("${").removesuffix("}")]


def _input(state: dict[str, Any], execution: Execution) -> dict[str, Any]:
    parameters = state.get("Parameters")
    return _resolve(parameters, execution.data, None) if parameters is not None else copy.deepcopy(execution.data)


def _resolve(template: Any, data: dict[str, Any], token: str | None) -> Any:
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = token if value == "$$.Task.Token" else copy.deepcopy(_path(data, value))
            else:
                resolved[key] = _resolve(value, data, token)
        return resolved
    return template


def _path(data: Any, path: str) -> Any:
    value = data
    for part in path.removeprefix("$").strip(".").split("."):
        if part:
            value = value[part]
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = [part for part in path.removeprefix("$").strip(".").split(".") if part]
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _matches(errors: list[str], error: str) -> bool:
    if "States.ALL" in errors or error in errors:
        return True
    return "States.TaskFailed" in errors and error != "States.Timeout"


def _choose(state: dict[str, Any], data: dict[str, Any]) -> str:
    for choice in state["Choices"]:
        try:
            value = _path(data, choice["Variable"])
        except (KeyError, TypeError):
            continue
        if "StringEquals" in choice and value == choice["StringEquals"]:
            return str(choice["Next"])
        if "BooleanEquals" in choice and value is choice["BooleanEquals"]:
            return str(choice["Next"])
    return str(state["Default"])
