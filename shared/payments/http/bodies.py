"""Request bodies of the POST endpoints: pydantic models and the one way to read them.

Bodies are parsed with ``parse_float=Decimal`` (an amount never passes through ``float``) and
searched for card data before anything else touches them. Type and shape problems answer 422
naming the field; amounts are checked by :func:`payments.core.money.parse_amount` (PAY_001).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from payments.core.caller import KycLevel
from payments.core.errors import InvalidRequest, UnprocessableRequest
from payments.gateways.base import GatewayName, MethodType
from payments.guards.card_data import contains_card_number, refuse_card_data
from payments.guards.errors import CardDataRefused
from payments.http.resolver import request_text

M = TypeVar("M", bound=BaseModel)
_ID = r"^[A-Za-z0-9_\-]{1,64}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _amount(default: Any = ...) -> Any:
    """An amount field: a decimal string (or a JSON number, read as a decimal, never a float)."""
    return Field(
        default,
        description='Decimal amount with at most two places, as a string ("1000.00") or a JSON number',
        json_schema_extra={
            "type": ["string", "number", *(["null"] if default is None else [])],
            "examples": ["1000.00"],
        },
    )


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class DepositInitiateBody(_Body):
    amount: Any = _amount()
    payment_method_id: str = Field(pattern=_ID)
    gateway: GatewayName | None = None
    description: str | None = Field(default=None, max_length=255)

    _gateway_lower = field_validator("gateway", mode="before")(_lower)


class DepositConfirmBody(_Body):
    transaction_id: str = Field(pattern=_ID)
    gateway_payment_id: str = Field(min_length=1, max_length=128)
    gateway_data: dict[str, str] = Field(default_factory=dict, max_length=10)


class MethodMetadata(_Body):
    last_four: str | None = Field(default=None, pattern=r"^\d{4}$")
    brand: str | None = Field(default=None, max_length=32)
    expiry_month: int | None = Field(default=None, ge=1, le=12)
    expiry_year: int | None = Field(default=None, ge=2000, le=2100)
    label: str | None = Field(default=None, max_length=100)


class MethodCreateBody(_Body):
    type: MethodType
    gateway: GatewayName
    token: str = Field(min_length=4, max_length=255)
    metadata: MethodMetadata = Field(default_factory=MethodMetadata)

    _gateway_lower = field_validator("gateway", mode="before")(_lower)
    _type_upper = field_validator("type", mode="before")(
        lambda value: value.upper() if isinstance(value, str) else value
    )


class WithdrawalInitiateBody(_Body):
    amount: Any = _amount()
    payment_method_id: str = Field(pattern=_ID)
    description: str | None = Field(default=None, max_length=255)


class KycBody(_Body):
    kyc_level: KycLevel

    _upper = field_validator("kyc_level", mode="before")(
        lambda value: value.upper() if isinstance(value, str) else value
    )


class MockPayBody(_Body):
    """What the Mock checkout's buttons send (stacks with the Mock only)."""

    action: Literal["pay", "decline"] = Field("pay", description="pay the order, or decline it as a bank would")


class RefundBody(_Body):
    transaction_id: str = Field(pattern=_ID)
    amount: Any = _amount(None)  # the whole remaining amount when left out
    reason: str | None = Field(default=None, max_length=255)


def parse_body(app: APIGatewayRestResolver, model: type[M]) -> M:
    raw = request_text(app.current_event)
    try:
        data = json.loads(raw or "{}", parse_float=Decimal)
    except ValueError:
        if contains_card_number(raw):  # not JSON: the whole text is searched
            raise CardDataRefused() from None
        raise InvalidRequest("The body must be JSON") from None
    # JSON: every key and value is searched, except the signature fields, whose hex would give a
    # Luhn-valid digit run about once in two hundred (they are verified, never stored or logged).
    refuse_card_data(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "body"
        # The message names the field and the rule, never the value (it could be anything).
        raise UnprocessableRequest(f"{field}: {error['msg']}", field=field) from None
