"""Every answer a test gets from a handler is what ``docs/openapi.json`` documents: its status is
listed for that operation (API Gateway's own ``default`` answers never come from a handler), its
body validates against the documented schema, and an error's code is one listed for its status.
:class:`tests.support.api.InProcessApi` checks each reply, so the whole suite exercises the
contract; a request to a method or path the API does not have is not an operation and is skipped."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@cache
def _document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())


@cache
def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref, "components": _document()["components"]})


def check(method: str, resource: str, status: int, body: Any) -> None:
    operation = _document()["paths"].get(resource, {}).get(method.lower())
    if operation is None:
        return
    where = f"{method} {resource} answered {status}"
    responses = operation["responses"]
    assert str(status) in responses, f"{where}, which docs/openapi.json does not list: {body}"
    media = responses[str(status)].get("content", {}).get("application/json")
    if media is None:  # an HTML page
        return
    schema = media["schema"]
    errors = sorted(_validator(schema["$ref"]).iter_errors(body), key=str) if "$ref" in schema else []
    assert not errors, f"{where} with a body docs/openapi.json does not describe: {errors[0].message} in {body}"
    if "examples" in media:
        codes = {example["value"]["error"]["code"] for example in media["examples"].values()}
        assert body["error"]["code"] in codes, f"{where} with code {body['error']['code']}, not one of {codes}"
