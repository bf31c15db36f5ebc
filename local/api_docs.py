"""Swagger UI at ``/docs`` on the local stack, offline: the page, Swagger UI's own files (from the
``swagger-ui-py`` package, installed with the dev requirements; nothing comes from a CDN) and
``docs/openapi.json`` with this stack as its server, so "Try it out" calls it."""

from __future__ import annotations

import importlib.util
import json
from http import HTTPStatus
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Wallet and payments API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, tryItOutEnabled: false});
</script></body></html>
"""

Answer = tuple[int, dict[str, str], bytes]


def _static_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # located, not imported: it would load jinja2
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("swagger-ui-py is not installed: run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def serve(path: str, base_url: str) -> Answer | None:
    """The answer for ``GET path`` when it is a docs path, else None."""
    if path in ("/docs", "/docs/"):
        return HTTPStatus.OK, {"Content-Type": "text/html; charset=utf-8"}, PAGE
    if path == "/docs/openapi.json":
        document = json.loads(DOCUMENT.read_text())
        document["servers"] = [{"url": base_url, "description": "this local stack"}]
        return HTTPStatus.OK, {"Content-Type": "application/json"}, json.dumps(document).encode()
    name = path.removeprefix("/docs/")
    if path.startswith("/docs/") and name in ASSETS:
        return HTTPStatus.OK, {"Content-Type": ASSETS[name]}, (_static_dir() / name).read_bytes()
    return None
