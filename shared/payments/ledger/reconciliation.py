"""Balance reconciliation: does a wallet agree with its ledger entries? One wallet
(:func:`reconcile_user`) or all of them (:func:`scan_wallets`, the scheduled job's pass).

The invariants (DESIGN.md, Ledger): ``balance == sum(entry.balance_delta)``,
``locked == sum(entry.locked_delta)``, ``available == balance - locked`` and ``0 <= locked <= balance``
(so available never goes negative). Used by the tests after every scenario and by operators
("Balance discrepancies" in the runbook).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from payments.core.clock import Deadline
from payments.store.ledger_table import (
    ENTRY_PREFIX,
    TXN_PREFIX,
    WALLET_SK,
    LedgerEntryItem,
    TransactionItem,
    WalletItem,
    user_pk,
)


def check_partition(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Problems found among one user's items, given as plain dicts (``sk`` and numeric fields).

    Besides the balance invariants: a COMPLETED deposit has exactly one credit of its amount, and
    a deposit that is not COMPLETED has none (each gateway payment is applied at most once)."""
    balance_sum = locked_sum = 0
    wallet: Mapping[str, Any] | None = None
    credits: dict[str, int] = {}
    deposits: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if item["sk"] == WALLET_SK:
            wallet = item
        elif item["sk"].startswith(ENTRY_PREFIX):
            balance_sum += int(item["balance_delta"])
            locked_sum += int(item["locked_delta"])
            if item.get("kind") == "CREDIT":
                credits[str(item["txn_id"])] = int(item["amount"])
        elif item["sk"].startswith(TXN_PREFIX) and item.get("type") == "DEPOSIT":
            deposits[str(item["txn_id"])] = item
    balance = int(wallet.get("balance", 0)) if wallet else 0
    locked = int(wallet.get("locked", 0)) if wallet else 0
    available = int(wallet.get("available", 0)) if wallet else 0
    problems = []
    if balance != balance_sum:
        problems.append(f"balance {balance} != sum of entries {balance_sum}")
    if locked != locked_sum:
        problems.append(f"locked {locked} != sum of lock entries {locked_sum}")
    if available != balance - locked:
        problems.append(f"available {available} != balance {balance} - locked {locked}")
    if not 0 <= locked <= balance:
        problems.append(f"locked {locked} outside 0..balance {balance}")
    if available < 0:
        problems.append(f"negative available balance {available}")
    for txn_id, deposit in deposits.items():
        credited = credits.get(txn_id)
        if deposit["status"] == "COMPLETED" and credited != int(deposit["amount"]):
            problems.append(f"completed deposit {txn_id} credited {credited}, expected {deposit['amount']}")
        if deposit["status"] != "COMPLETED" and credited is not None:
            problems.append(f"{deposit['status']} deposit {txn_id} was credited {credited}")
    return problems


def reconcile_user(user_id: str) -> list[str]:
    """Read one user's wallet and entries (strongly consistent) and check them."""
    pk = user_pk(user_id)
    items: list[dict[str, Any]] = [
        {
            "sk": entry.sk,
            "balance_delta": entry.balance_delta,
            "locked_delta": entry.locked_delta,
            "kind": entry.kind,
            "txn_id": entry.txn_id,
            "amount": entry.amount,
        }
        for entry in LedgerEntryItem.query(pk, LedgerEntryItem.sk.startswith(ENTRY_PREFIX), consistent_read=True)
    ]
    items += [
        {"sk": txn.sk, "type": txn.type, "status": txn.status, "txn_id": txn.txn_id, "amount": txn.amount}
        for txn in TransactionItem.query(pk, TransactionItem.sk.startswith(TXN_PREFIX), consistent_read=True)
    ]
    try:
        wallet = WalletItem.get(pk, WALLET_SK, consistent_read=True)
        items.append(
            {
                "sk": WALLET_SK,
                "balance": wallet.balance,
                "locked": wallet.locked,
                "available": wallet.available,
            }
        )
    except WalletItem.DoesNotExist:
        pass
    return check_partition(items)


#: What a pass reads of each item: the keys and the fields :func:`check_partition` needs.
_FIELDS = (
    "pk",
    "sk",
    "balance",
    "locked",
    "available",
    "balance_delta",
    "locked_delta",
    "kind",
    "txn_id",
    "amount",
    "type",
    "status",
)


@dataclass
class ScanResult:
    """One run of the pass: wallets checked, those that differ (user id -> problems), and where
    the next run continues (None when the pass reached the end of the table)."""

    wallets: int = 0
    pages: int = 0
    differences: dict[str, list[str]] = field(default_factory=dict)
    cursor: dict[str, Any] | None = None


def _plain(raw: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    return {name: int(value["N"]) if "N" in value else value.get("S") for name, value in raw.items()}


def scan_wallets(
    cursor: dict[str, Any] | None, deadline: Deadline, page_size: int = 500, reserve_s: float = 30.0
) -> ScanResult:
    """Recompute every wallet from its entries, paging through the ledger table with one
    partition in memory at a time (a partition's items are contiguous in a scan), from
    ``cursor`` until the end of the table or until only ``reserve_s`` of the run is left. A scan
    is not a snapshot and a run may stop inside a partition, so a partition that looks wrong is
    checked again with consistent reads (:func:`reconcile_user`) before it is reported."""
    connection = WalletItem._get_connection()
    result = ScanResult()
    current: list[dict[str, Any]] = []

    def finish() -> None:
        if not current or not str(current[0]["pk"]).startswith("USER#"):
            return
        user_id = str(current[0]["pk"]).removeprefix("USER#")
        if any(item["sk"] == WALLET_SK for item in current):
            result.wallets += 1
        if check_partition(current):
            confirmed = reconcile_user(user_id)
            if confirmed:
                result.differences[user_id] = confirmed

    start = cursor
    while True:
        page = connection.scan(limit=page_size, exclusive_start_key=start, attributes_to_get=list(_FIELDS))
        result.pages += 1
        for raw in page.get("Items", []):
            item = _plain(raw)
            if current and item["pk"] != current[0]["pk"]:
                finish()
                current = []
            current.append(item)
        start = page.get("LastEvaluatedKey")
        if start is None:
            finish()
            return result
        if deadline.remaining() < reserve_s:
            finish()  # a partial partition: confirmed with consistent reads before any report
            result.cursor = start
            return result
