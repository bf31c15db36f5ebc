"""JWT verification (used by the Lambda authorizer) and the caller handed to every handler.

Tokens are HS256 by default (``JWT_ALGORITHM``); ``alg: none`` and any algorithm other than the
configured one are refused. Claims: ``sub`` (user id), ``kyc_level``, ``roles`` (list), ``exp``.
Only the authorizer imports this module (PyJWT and its crypto backends cost cold-start time);
handlers read the caller from the authorizer context with :mod:`payments.core.caller`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt

from payments.core.caller import Caller, KycLevel
from payments.core.clock import utcnow
from payments.core.errors import Unauthorized
from payments.platform.settings import settings

_MAX_USER_ID = 128
_MIN_SECRET_BYTES = 32  # RFC 7518 section 3.2: an HS256 key is at least as long as the hash


@dataclass(frozen=True)
class JwtSettings:
    secret: str
    algorithm: str = "HS256"
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: int = 30


def verify_token(token: str, settings: JwtSettings) -> Caller:
    """Decode and check a bearer token; every failure is the same :class:`Unauthorized`."""
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[settings.algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway_seconds,
            options={"require": ["sub", "exp"], "verify_aud": settings.audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"Invalid token: {type(exc).__name__}") from None
    return _caller_from_claims(claims)


def _caller_from_claims(claims: Mapping[str, Any]) -> Caller:
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= _MAX_USER_ID or "#" in user_id:
        raise Unauthorized("Invalid token: bad sub claim")
    try:
        kyc_level = KycLevel(str(claims.get("kyc_level", KycLevel.BASIC)).upper())
    except ValueError:
        raise Unauthorized("Invalid token: bad kyc_level claim") from None
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) and "," not in role for role in roles):
        raise Unauthorized("Invalid token: bad roles claim")
    return Caller(user_id, kyc_level, frozenset(roles))


def with_stored_kyc_level(caller: Caller) -> Caller:
    """The level an admin stored on the wallet wins over the token's claim (one GetItem per token
    per authorizer cache period)."""
    from payments.kyc.levels import stored_level

    stored = stored_level(caller.user_id)
    return Caller(caller.user_id, stored, caller.roles) if stored else caller


def issue_token(
    secret: str,
    user_id: str,
    kyc_level: KycLevel = KycLevel.BASIC,
    roles: tuple[str, ...] = ("user",),
    ttl: timedelta = timedelta(hours=24),
    algorithm: str = "HS256",
) -> str:
    """Sign a token. Used by ``make token`` and the tests; production tokens come from your IdP."""
    now = utcnow()
    claims = {
        "sub": user_id,
        "kyc_level": str(kyc_level),
        "roles": list(roles),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=algorithm)


def settings_from_environment() -> JwtSettings:
    """Secret from Secrets Manager (``JWT_SECRET_ARN``) or SSM (``JWT_SECRET_PARAMETER``) in AWS,
    cached by Powertools for 5 minutes so a rotated secret is picked up; ``JWT_SECRET_KEY`` locally.
    No secret means no service: there is deliberately no built-in fallback."""
    return JwtSettings(
        secret=_jwt_secret(),
        algorithm=settings.jwt_algorithm,
        audience=settings.jwt_audience or None,
        issuer=settings.jwt_issuer or None,
    )


def _jwt_secret() -> str:
    secret_arn = settings.jwt_secret_arn
    parameter = settings.jwt_secret_parameter
    if secret_arn or parameter:
        # Imported here: boto3 is only needed when the secret lives in AWS.
        from aws_lambda_powertools.utilities import parameters

        if secret_arn:
            return str(parameters.get_secret(secret_arn, max_age=300))
        return str(parameters.get_parameter(parameter, decrypt=True, max_age=300))
    secret = settings.jwt_secret_key
    if len(secret.encode()) < _MIN_SECRET_BYTES:
        raise RuntimeError(
            f"JWT_SECRET_KEY must be set ({_MIN_SECRET_BYTES}+ bytes) when no JWT_SECRET_ARN is configured"
        )
    return secret


def audit_refusal(reason: str) -> None:
    """Audit a refused token (the authorizer): no trusted user, so the record goes to one of the
    day's ``AUTH#`` chains (sharded, so a burst of forged tokens has no hot partition). A TOKEN
    authorizer sees neither the client's IP nor anything but the token, which is never recorded.
    A failed write never turns the 401 into anything else."""
    import secrets

    from pynamodb.exceptions import PynamoDBException

    from payments.audit import records
    from payments.core.acting import acting_as
    from payments.platform.observability import logger, metrics

    try:
        chain = f"AUTH#{utcnow():%Y-%m-%d}#{secrets.randbelow(8)}"
        with acting_as("anonymous"):
            records.write(records.build("authentication_failed", chain=chain, details={"reason": reason}))
    except PynamoDBException:
        logger.exception("audit record of a refused token not written")
        metrics.add_metric(name="AuditWriteFailed", unit="Count", value=1)
