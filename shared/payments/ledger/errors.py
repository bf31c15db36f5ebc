"""What the ledger reports when a write does not apply. The client-facing ones are
:class:`~payments.core.errors.LedgerConflict`s; :class:`WalletRefused` never leaves the ledger."""

from __future__ import annotations

from payments.core.errors import LedgerConflict


class DuplicateRecord(LedgerConflict):
    """An :class:`ExtraPut` key exists already: this event (or request) was recorded before."""

    code = "DUPLICATE"
    default_message = "This event was already recorded"

    def __init__(self, role: str) -> None:
        super().__init__(role=role)
        self.role = role


class ExtraConditionFailed(LedgerConflict):
    """The condition of an :class:`ExtraUpdate` did not hold."""

    code = "CONDITION_FAILED"
    default_message = "A related record is not in a state that allows this operation"

    def __init__(self, role: str) -> None:
        super().__init__(role=role)
        self.role = role


class AlreadyApplied(LedgerConflict):
    """This (transaction, kind) entry exists: the operation was applied before. Callers that
    may legitimately repeat (webhook + confirm) treat it as success without a second movement."""

    code = "ALREADY_APPLIED"
    default_message = "This operation was already applied"


class WalletRefused(Exception):
    """The wallet's condition failed and usage conditions were part of it: the caller must look."""
