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
