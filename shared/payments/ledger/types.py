"""The ledger's vocabulary, importable without pynamodb's transaction machinery (read handlers)."""

from enum import StrEnum


class EntryKind(StrEnum):
    CREDIT = "CREDIT"  # money in:            balance +a, available +a
    DEBIT = "DEBIT"  # money out:             balance -a, available -a   (needs available)
    LOCK = "LOCK"  # reserve for a payout:    locked +a,  available -a   (needs available)
    UNLOCK = "UNLOCK"  # release a reserve:   locked -a,  available +a   (needs locked)
    SETTLE = "SETTLE"  # pay out a reserve:   balance -a, locked -a      (needs locked)


class TransactionType(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    REFUND = "REFUND"
    CHARGEBACK = "CHARGEBACK"
    ADJUSTMENT = "ADJUSTMENT"


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REVERSED = "REVERSED"


FINAL_STATUSES = frozenset(
    {
        TransactionStatus.COMPLETED,
        TransactionStatus.FAILED,
        TransactionStatus.CANCELLED,
        TransactionStatus.REVERSED,
    }
)


# Ids of the transactions a flow derives from another (one place, so the flows that write them and
# the gateway reconciliation that reads them agree):
def reinstated_refund_id(refund_id: str) -> str:
    """A refund the gateway made after we had reversed it, taken from the wallet again."""
    return f"{refund_id}_again"


def payment_return_id(paid_id: str) -> str:
    """Money sent back to its payer: a second payment (by payment id) or a late one (by deposit id)."""
    return f"ret_{paid_id}"


def payout_reversal_id(withdrawal_id: str) -> str:
    """A settled payout that bounced, credited back to the wallet."""
    return f"{withdrawal_id}_reversal"
