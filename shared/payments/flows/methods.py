"""Stored payment methods: gateway tokens only, sealed with KMS, shown masked, owned by one user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from payments.audit import records
from payments.core.clock import utcnow
from payments.core.errors import InvalidRequest, PaymentMethodNotFound
from payments.core.ids import new_ulid
from payments.gateways.base import SUPPORT, GatewayName, MethodType
from payments.kyc.usage import LimitCharge
from payments.store.ledger_table import METHOD_PREFIX, PaymentMethodItem, user_pk

_TOKEN = re.compile(r"^[A-Za-z0-9_\-.:]{4,255}$")
#: Method types a payout (withdrawal) can go to.
PAYOUT_TYPES = frozenset({MethodType.BANK_TRANSFER, MethodType.UPI, MethodType.CARD})
MAX_METHODS_PER_USER = 20


@dataclass(frozen=True)
class NewMethod:
    type: MethodType
    gateway: GatewayName
    token: str
    last_four: str | None = None
    brand: str | None = None
    expiry_month: int | None = None
    expiry_year: int | None = None
    label: str | None = None


def _crypto() -> Any:
    """KMS and AES-GCM (boto3, cryptography) are loaded only by the functions that seal or open a
    token, not by those that list or delete methods or process webhooks."""
    from payments.platform import crypto

    return crypto


def _mask_label(label: str) -> str:
    """``alice@okbank`` -> ``al***@okbank``: enough to recognise, not enough to reuse."""
    name, at, domain = label.partition("@")
    return f"{name[:2]}***{at}{domain}" if at else f"{label[:2]}***{label[-2:]}"


def add_method(user_id: str, method: NewMethod, method_id: str | None = None) -> PaymentMethodItem:
    """Seal and store a method. With ``method_id`` (from the client's Idempotency-Key) a retry
    returns the method the first run stored."""
    if method_id is not None:
        try:
            return PaymentMethodItem.get(user_pk(user_id), f"{METHOD_PREFIX}{method_id}", consistent_read=True)
        except PaymentMethodItem.DoesNotExist:
            pass
    if method.type not in SUPPORT[method.gateway]:
        raise InvalidRequest(f"{method.gateway} does not support {method.type}", field="type")
    if not _TOKEN.match(method.token) or method.token.isdigit():
        raise InvalidRequest("token must be the gateway's token for this method", field="token")
    if method.last_four is not None and not re.fullmatch(r"\d{4}", method.last_four):
        raise InvalidRequest("last_four must be exactly 4 digits", field="metadata.last_four")
    if len(list_methods(user_id)) >= MAX_METHODS_PER_USER:
        raise InvalidRequest(f"at most {MAX_METHODS_PER_USER} payment methods per user")
    method_id = method_id or f"pm_{new_ulid().lower()}"
    item = PaymentMethodItem(
        user_pk(user_id),
        f"{METHOD_PREFIX}{method_id}",
        method_id=method_id,
        user_id=user_id,
        type=str(method.type),
        gateway=str(method.gateway),
        token_envelope=_crypto().encrypt(method.token, user_id),
        last_four=method.last_four,
        brand=method.brand.upper() if method.brand else None,
        expiry_month=method.expiry_month,
        expiry_year=method.expiry_year,
        label=_mask_label(method.label) if method.label else None,
        payout_capable=method.type in PAYOUT_TYPES,
        created_at=utcnow(),
    )
    record = records.build(
        "payment_method_added",
        chain=records.user_chain(user_id),
        user_id=user_id,
        gateway=str(method.gateway),
        details={"method_id": method_id, "type": str(method.type)},
    )
    records.commit_with(record, lambda tx: tx.save(item, condition=PaymentMethodItem.pk.does_not_exist()))
    return item


def list_methods(user_id: str) -> list[PaymentMethodItem]:
    return [
        item
        for item in PaymentMethodItem.query(user_pk(user_id), PaymentMethodItem.sk.startswith(METHOD_PREFIX))
        if item.status == "ACTIVE"
    ]


def get_method(user_id: str, method_id: str) -> PaymentMethodItem:
    """The caller's own active method; anybody else's id is simply not found (PAY_003)."""
    try:
        item = PaymentMethodItem.get(user_pk(user_id), f"{METHOD_PREFIX}{method_id}")
    except PaymentMethodItem.DoesNotExist:
        raise PaymentMethodNotFound(payment_method_id=method_id) from None
    if item.status != "ACTIVE":
        raise PaymentMethodNotFound(payment_method_id=method_id)
    return item


def method_token(item: PaymentMethodItem) -> str:
    """Decrypt the gateway token, only when a gateway call needs it."""
    return _crypto().decrypt(item.token_envelope, item.user_id)


def delete_method(user_id: str, method_id: str) -> None:
    """Soft delete: past transactions still name the method; the token is dropped for good."""
    item = PaymentMethodItem(user_pk(user_id), f"{METHOD_PREFIX}{method_id}")
    record = records.build(
        "payment_method_removed",
        chain=records.user_chain(user_id),
        user_id=user_id,
        details={"method_id": method_id},
    )

    def remove(tx: TransactWrite) -> None:
        tx.update(
            item,
            actions=[PaymentMethodItem.status.set("DELETED"), PaymentMethodItem.token_envelope.set("-")],
            condition=PaymentMethodItem.status == "ACTIVE",
        )

    try:
        records.commit_with(record, remove)
    except TransactWriteError as exc:
        # pynamodb sends puts first: the audit record is item 0, the method item 1.
        if records.cancelled_by_condition(exc, 1):
            raise PaymentMethodNotFound(payment_method_id=method_id) from None
        raise


def charged_to(method: PaymentMethodItem, charge: LimitCharge, *more: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The attributes every money movement records about its method and the KYC usage it charged
    (so a failure or release gives the usage back to the right periods), plus ``more``."""
    return (
        ("payment_method_id", method.method_id),
        ("method_type", method.type),
        ("limit_day", charge.day),
        ("limit_month", charge.month),
        *more,
    )
