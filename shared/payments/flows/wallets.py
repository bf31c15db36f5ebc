"""Read side of the wallet: the balance view (with live limits) and the transaction history."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition

from payments.core.caller import KycLevel
from payments.core.clock import utcnow
from payments.core.errors import InvalidRequest, NotFound
from payments.kyc.levels import effective_level
from payments.kyc.tiers import day_period, limits_for, month_period
from payments.ledger.types import TransactionStatus, TransactionType
from payments.platform.settings import settings
from payments.store.ledger_table import (
    TXN_PREFIX,
    TransactionItem,
    current_wallet,
    txn_sk,
    user_pk,
)

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class BalanceView:
    """All amounts in minor units."""

    currency: str
    balance: int
    locked: int
    available: int
    daily_limit: int
    daily_used: int
    monthly_limit: int
    monthly_used: int

    @property
    def daily_remaining(self) -> int:
        return max(self.daily_limit - self.daily_used, 0)

    @property
    def monthly_remaining(self) -> int:
        return max(self.monthly_limit - self.monthly_used, 0)


@dataclass(frozen=True)
class TransactionPage:
    items: list[TransactionItem]
    total: int
    has_more: bool
    next_cursor: str | None


def get_balance(user_id: str, kyc_level: KycLevel, now: datetime | None = None) -> BalanceView:
    """One strongly consistent GetItem. A user who never moved money has an all-zero wallet; usage
    from an earlier day or month counts as zero (periods roll over lazily, no job needed)."""
    now = now or utcnow()
    wallet = current_wallet(user_id)
    limits = limits_for(effective_level(wallet, kyc_level))
    daily_used = wallet.daily_used if wallet.daily_period == day_period(now) else 0
    monthly_used = wallet.monthly_used if wallet.monthly_period == month_period(now) else 0
    return BalanceView(
        currency=wallet.currency or settings.wallet_currency,
        balance=wallet.balance,
        locked=wallet.locked,
        available=wallet.available,
        daily_limit=limits.daily_limit,
        daily_used=daily_used,
        monthly_limit=limits.monthly_limit,
        monthly_used=monthly_used,
    )


def own_transaction(user_id: str, txn_id: str, txn_type: TransactionType) -> TransactionItem:
    """The caller's own transaction of that type (strongly consistent). Anyone else's id, or an
    id of another type, is simply not found: ids are never a way into another user's data."""
    try:
        item = TransactionItem.get(user_pk(user_id), txn_sk(txn_id), consistent_read=True)
    except TransactionItem.DoesNotExist:
        item = None
    if item is None or item.type != txn_type:
        raise NotFound(f"{txn_type.value.capitalize()} not found", id=txn_id)
    return item


def list_transactions(
    user_id: str,
    *,
    skip: int = 0,
    limit: int = 20,
    txn_type: TransactionType | None = None,
    status: TransactionStatus | None = None,
    cursor: str | None = None,
) -> TransactionPage:
    """Newest first. ``skip``/``limit`` as in the spec; ``cursor`` (from ``next_cursor``) resumes
    after the last item of the previous page without re-reading it. ``total`` counts every
    transaction matching the filters, independent of paging."""
    if not 1 <= limit <= MAX_PAGE_SIZE or skip < 0:
        raise InvalidRequest("limit must be 1..100 and skip >= 0")
    pk = user_pk(user_id)
    filters: Condition | None = None
    if txn_type is not None:
        filters = TransactionItem.type == str(txn_type)
    if status is not None:
        status_filter = TransactionItem.status == str(status)
        filters = status_filter if filters is None else filters & status_filter
    start_key = _start_key(pk, _decode_cursor(cursor)) if cursor else None
    wanted = skip + limit + 1  # one extra tells whether there is a next page
    results = TransactionItem.by_time.query(
        pk,
        filter_condition=filters,
        scan_index_forward=False,
        limit=wanted,
        page_size=min(wanted, 1000) if filters is None else None,
        last_evaluated_key=start_key,
    )
    fetched = list(results)
    items = fetched[skip:]
    has_more = len(items) > limit
    items = items[:limit]
    if cursor is None and len(fetched) < wanted:
        total = len(fetched)  # the query saw every match: counting again would be a wasted read
    else:
        total = TransactionItem.by_time.count(pk, filter_condition=filters)
    next_cursor = _encode_cursor(items[-1].ts) if has_more and items else None
    return TransactionPage(items=items, total=total, has_more=has_more, next_cursor=next_cursor)


def _encode_cursor(ts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"ts": ts}).encode()).decode().rstrip("=")


def _start_key(pk: str, ts: str) -> dict[str, Any]:
    """An index's start key names the table keys too; the item's id is the tail of its ``ts``."""
    return {"pk": {"S": pk}, "ts": {"S": ts}, "sk": {"S": f"{TXN_PREFIX}{ts.rpartition('#')[2]}"}}


def _decode_cursor(cursor: str) -> str:
    """The cursor carries only the position in the caller's own history; the partition is always
    the caller's, so a cursor can never reach another user's items."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts = json.loads(base64.urlsafe_b64decode(padded.encode()))["ts"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidRequest("cursor is not valid", field="cursor") from None
    if not isinstance(ts, str) or "#" not in ts or len(ts) > 200:
        raise InvalidRequest("cursor is not valid", field="cursor")
    return ts
