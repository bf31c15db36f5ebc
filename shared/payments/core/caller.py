"""The authenticated caller, as the Lambda authorizer hands it to every handler.

Handlers never parse tokens: API Gateway passes the authorizer's ``context`` in
``requestContext.authorizer`` and this is the only place that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from payments.core.errors import Unauthorized

ADMIN_ROLE = "admin"


class KycLevel(StrEnum):
    """The KYC tiers of the spec; what each allows is :mod:`payments.kyc.tiers`."""

    BASIC = "BASIC"
    INTERMEDIATE = "INTERMEDIATE"
    ADVANCED = "ADVANCED"


@dataclass(frozen=True)
class Caller:
    user_id: str
    kyc_level: KycLevel
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def to_authorizer_context(self) -> dict[str, str]:
        """API Gateway context values must be strings, numbers or booleans: roles are joined."""
        return {
            "user_id": self.user_id,
            "kyc_level": str(self.kyc_level),
            "roles": ",".join(sorted(self.roles)),
        }

    @classmethod
    def from_authorizer_context(cls, context: Mapping[str, Any] | None) -> Caller:
        """The caller as the authorizer vouched for it; missing context means a misrouted request."""
        if not context or not context.get("user_id"):
            raise Unauthorized()
        roles = frozenset(role for role in str(context.get("roles", "")).split(",") if role)
        return cls(str(context["user_id"]), KycLevel(context.get("kyc_level", KycLevel.BASIC)), roles)
