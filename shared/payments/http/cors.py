"""CORS for browser clients: only the origins in ``CORS_ALLOWED_ORIGINS`` may read the API's
answers. Empty (the default) turns CORS off: no answer carries ``Access-Control-*`` headers, so a
browser refuses cross-origin calls while mobile apps and servers are unaffected.

Actual requests get their headers from Powertools (:func:`config`, given to every resolver);
preflights (``OPTIONS``, which carry no bearer token, so they skip the authorizer) are answered
by one function with :func:`preflight`. Gateway responses (401, 403, 404, 429, 5xx from API Gateway
itself) echo the request's Origin (template ``GatewayResponses``): API Gateway cannot check an
allow-list there, and those bodies hold no data (docs/decisions.md, "CORS").
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import CORSConfig

from payments.platform.settings import settings

#: What a browser client may send: the bearer token, JSON, the idempotency key.
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
#: What it may read besides the simple headers: replay marker, back-off, request id for support.
EXPOSE_HEADERS = ("Idempotent-Replayed", "Retry-After", "x-amzn-RequestId")
ALLOW_METHODS = ("DELETE", "GET", "OPTIONS", "POST", "PUT")
MAX_AGE_S = 600


def allowed_origins() -> tuple[str, ...]:
    return settings.cors_allowed_origins


def config() -> CORSConfig | None:
    """Powertools' CORS for actual requests, or None when no origin is allowed."""
    origins = allowed_origins()
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        max_age=MAX_AGE_S,
        allow_credentials=False,  # bearer tokens, never cookies
    )


def preflight(origin: str | None, method: str | None) -> tuple[HTTPStatus, dict[str, str]]:
    """The answer to ``OPTIONS``: 204 with the grants for an allowed origin asking for a method
    the API has; 204 without them otherwise (the browser then refuses the call, as it should)."""
    headers = {"Vary": "Origin"}
    if origin and origin in allowed_origins() and (method or "").upper() in ALLOW_METHODS:
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ",".join(ALLOW_METHODS),
                "Access-Control-Allow-Headers": ",".join(ALLOW_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE_S),
            }
        )
    return HTTPStatus.NO_CONTENT, headers
