from payments.ledger.reconciliation import check_partition


def _entry(n: int, balance: int, locked: int = 0) -> dict:
    return {"sk": f"ENTRY#txn_{n}#X", "balance_delta": balance, "locked_delta": locked}


def test_consistent_wallet_has_no_problems() -> None:
    items = [
        _entry(1, 500),
        _entry(2, 0, 200),
        {"sk": "WALLET", "balance": 500, "locked": 200, "available": 300},
    ]
    assert check_partition(items) == []


def test_every_broken_invariant_is_reported() -> None:
    items = [_entry(1, 100), {"sk": "WALLET", "balance": 150, "locked": 200, "available": -50}]
    problems = check_partition(items)
    assert "balance 150 != sum of entries 100" in problems
    assert "locked 200 != sum of lock entries 0" in problems
    assert "locked 200 outside 0..balance 150" in problems
    assert "negative available balance -50" in problems


def test_entries_without_a_wallet_are_a_discrepancy() -> None:
    assert check_partition([_entry(1, 100)]) == ["balance 0 != sum of entries 100"]
