"""What the admin endpoints answer (withdrawal decisions are in :mod:`.withdrawals`)."""

from __future__ import annotations

from typing_extensions import TypedDict

from payments.core.caller import KycLevel


class KycSetBody(TypedDict):
    success: bool
    user_id: str
    kyc_level: str


def kyc_set(user_id: str, level: KycLevel) -> KycSetBody:
    return {"success": True, "user_id": user_id, "kyc_level": str(level)}
