"""Which committed ledger change is which domain event, and what the event says.

Events are derived from the ledger table's stream, never emitted by the flows: a stream record
exists only for a write that committed, and every committed write has one. So an event is
published for every committed change, and never for one that was rolled back (a cancelled
``TransactWriteItems`` leaves no record), whichever function, retry or recovery job made it.

A change is an event when a transaction record *enters* a status (an INSERT in it, or a MODIFY
from another one), or when a wallet's stored KYC level changes:

======================  ==========================  =========================================
record                  status entered              event
======================  ==========================  =========================================
DEPOSIT                 COMPLETED                   ``deposit.completed`` (the wallet credited)
DEPOSIT                 FAILED, CANCELLED           ``deposit.failed``
DEPOSIT                 REVERSED                    ``deposit.returned`` (paid late; sent back)
WITHDRAWAL              COMPLETED                   ``withdrawal.completed`` (paid out)
WITHDRAWAL              FAILED, CANCELLED           ``withdrawal.failed`` (the funds released)
ADJUSTMENT              COMPLETED                   ``withdrawal.reversed`` (the payout bounced;
                                                    credited back: ``<withdrawal>_reversal``)
REFUND                  COMPLETED                   ``refund.completed``
REFUND                  FAILED                      ``refund.failed`` (refused, or failed by the
                                                    gateway after it had completed)
CHARGEBACK              PENDING (created)           ``dispute.opened`` (the amount locked)
CHARGEBACK              REVERSED, COMPLETED         ``dispute.closed`` (won / lost)
wallet                  ``kyc_level`` changed       ``kyc.changed``
======================  ==========================  =========================================

An event's id is ``evt_<transaction>_<status>_<change>``, where ``<change>`` is derived from the
stream record's own ``eventID``: one stream record is one committed write, and a redelivered
batch carries the same records, so a re-published event has the same id and consumers dedupe by
it - while a transaction that enters a status a second time (a refund failed by the gateway
after it had completed, FAILED -> COMPLETED -> FAILED) gets a new id for the new change.
``occurred_at`` has microseconds (the writer's ``updated_at``): order a transaction's events by it.
Amounts are decimal strings, as in the API. Field meanings: docs/events/README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NotRequired

from typing_extensions import TypedDict

from payments.core.clock import isoformat_z, sortable
from payments.core.money import format_minor
from payments.ledger.types import payout_reversal_id

#: The EventBridge ``source`` of every domain event (``detail-type`` is the event type).
SOURCE = "serverless-wallet"
#: Bumped when a field changes meaning or goes away (added fields keep the version).
SCHEMA_VERSION = "1"

_TRANSACTION_EVENTS: dict[tuple[str, str], str] = {
    ("DEPOSIT", "COMPLETED"): "deposit.completed",
    ("DEPOSIT", "FAILED"): "deposit.failed",
    ("DEPOSIT", "CANCELLED"): "deposit.failed",
    ("DEPOSIT", "REVERSED"): "deposit.returned",
    ("WITHDRAWAL", "COMPLETED"): "withdrawal.completed",
    ("WITHDRAWAL", "FAILED"): "withdrawal.failed",
    ("WITHDRAWAL", "CANCELLED"): "withdrawal.failed",
    ("ADJUSTMENT", "COMPLETED"): "withdrawal.reversed",
    ("REFUND", "COMPLETED"): "refund.completed",
    ("REFUND", "FAILED"): "refund.failed",
    ("CHARGEBACK", "PENDING"): "dispute.opened",
    ("CHARGEBACK", "REVERSED"): "dispute.closed",
    ("CHARGEBACK", "COMPLETED"): "dispute.closed",
}
KYC_CHANGED = "kyc.changed"
EVENT_TYPES: tuple[str, ...] = (*sorted(set(_TRANSACTION_EVENTS.values())), KYC_CHANGED)


class TransactionData(TypedDict):
    """What a transaction event says about the transaction, as it stands after the change."""

    transaction_id: str
    type: str
    status: str
    amount: str
    currency: str
    reference_id: str | None
    gateway: str | None
    failure_reason: str | None
    created_at: str
    parent_transaction_id: NotRequired[str]  # refunds and disputes: the deposit
    wallet_debited: NotRequired[bool]  # refunds: False when the payer's money is sent back unseen
    dispute_id: NotRequired[str]  # disputes
    shortfall: NotRequired[str]  # disputes: what the wallet could not lock
    outcome: NotRequired[str]  # dispute.closed: WON or LOST


class KycData(TypedDict):
    from_level: str | None  # None: the token's claim was in force
    to_level: str


class _Envelope(TypedDict):
    id: str  # the same for every delivery of the event: dedupe by it
    type: str  # also the EventBridge detail-type
    version: str
    occurred_at: str
    user_id: str


class TransactionEvent(_Envelope):
    """The ``detail`` of a deposit, withdrawal, refund or dispute event (docs/events/)."""

    data: TransactionData


class KycEvent(_Envelope):
    """The ``detail`` of ``kyc.changed`` (docs/events/)."""

    data: KycData


DomainEvent = TransactionEvent | KycEvent


def statuses_of(event_type: str) -> tuple[str, ...]:
    """The transaction statuses an event type announces (its schema's ``status`` values)."""
    return tuple(sorted(status for (_, status), name in _TRANSACTION_EVENTS.items() if name == event_type))


def transaction_types_of(event_type: str) -> tuple[str, ...]:
    return tuple(sorted({kind for (kind, _), name in _TRANSACTION_EVENTS.items() if name == event_type}))


def derive(record: Mapping[str, Any]) -> DomainEvent | None:
    """The domain event a DynamoDB stream record (as Lambda delivers it) announces, if any."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    change = record.get("dynamodb", {})
    new = _plain(change.get("NewImage"))
    old = _plain(change.get("OldImage"))
    sk = str(new.get("sk", ""))
    if sk.startswith("TXN#"):
        return _transaction_event(new, old, _change_id(record))
    if sk == "WALLET":
        return _kyc_event(new, old, _change_id(record))
    return None


def _change_id(record: Mapping[str, Any]) -> str:
    """Twelve letters and digits 2-7 naming the stream record (its ``eventID``, the same on every
    delivery of it): never a long run of decimal digits, which card-data scans would read."""
    import base64
    import hashlib

    digest = hashlib.sha256(str(record["eventID"]).encode()).digest()
    return base64.b32encode(digest).decode()[:12].lower()


def _transaction_event(new: dict[str, Any], old: dict[str, Any], change: str) -> TransactionEvent | None:
    status = str(new.get("status", ""))
    if old.get("status") == status:
        return None
    event_type = _TRANSACTION_EVENTS.get((str(new.get("type", "")), status))
    txn_id = str(new.get("txn_id", ""))
    if new.get("type") == "ADJUSTMENT" and txn_id != payout_reversal_id(str(new.get("reference_id"))):
        return None  # the only adjustment the flows make is a bounced payout's credit
    if event_type is None:
        return None
    data: TransactionData = {
        "transaction_id": txn_id,
        "type": str(new["type"]),
        "status": status,
        "amount": format_minor(new["amount"]),
        "currency": str(new.get("currency") or ""),
        "reference_id": _text(new.get("reference_id")),
        "gateway": _text(new.get("gateway")),
        "failure_reason": _text(new.get("failure_reason")),
        "created_at": _timestamp(new["created_at"]),
    }
    if new.get("parent_txn_id"):
        data["parent_transaction_id"] = str(new["parent_txn_id"])
    if new["type"] == "REFUND":
        data["wallet_debited"] = new.get("wallet_debited") is not False
    if new["type"] == "CHARGEBACK":
        data["dispute_id"] = str(new.get("dispute_id") or "")
        data["shortfall"] = format_minor(new.get("shortfall") or 0)
        if event_type == "dispute.closed":
            data["outcome"] = "WON" if status == "REVERSED" else "LOST"
    return {
        "id": f"evt_{txn_id}_{status.lower()}_{change}",
        "type": event_type,
        "version": SCHEMA_VERSION,
        "occurred_at": _precise(new.get("updated_at") or new["created_at"]),
        "user_id": str(new["user_id"]),
        "data": data,
    }


def _kyc_event(new: dict[str, Any], old: dict[str, Any], change: str) -> KycEvent | None:
    level = _text(new.get("kyc_level"))
    if level is None or level == _text(old.get("kyc_level")):
        return None
    changed_at = new.get("updated_at") or ""
    user_id = str(new["user_id"])
    return {
        "id": f"evt_kyc_{user_id}_{change}",
        "type": KYC_CHANGED,
        "version": SCHEMA_VERSION,
        "occurred_at": _precise(changed_at),
        "user_id": user_id,
        "data": {"from_level": _text(old.get("kyc_level")), "to_level": level},
    }


def _plain(image: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stream image (DynamoDB JSON) as plain values; numbers stay exact (``Decimal``)."""
    if not image:
        return {}
    deserialize = _deserializer()
    return {name: deserialize(value) for name, value in image.items()}


@cache
def _deserializer() -> Callable[[Any], Any]:
    """boto3's, made once per execution environment (not per record)."""
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer().deserialize


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _parse(stored: str) -> datetime:
    """pynamodb's ``UTCDateTimeAttribute`` format (``2026-03-02T09:00:00.000000+0000``)."""
    return datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%f%z")


def _timestamp(stored: str | Decimal) -> str:
    return isoformat_z(_parse(str(stored)))


def _precise(stored: str | Decimal) -> str:
    """``2026-03-02T09:01:30.123456Z``: the order of one transaction's changes."""
    return sortable(_parse(str(stored)))
