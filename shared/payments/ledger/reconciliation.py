"""Balance reconciliation: does a wallet agree with its ledger entries?

The invariants (DESIGN.md, Ledger): ``balance == sum(entry.balance_delta)``,
``locked == sum(entry.locked_delta)``, ``available == balance - locked`` and ``0 <= locked <= balance``
(so available never goes negative). Used by the tests after every scenario and by operators
("Balance discrepancies" in the runbook).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
