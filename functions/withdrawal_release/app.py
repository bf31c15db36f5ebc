"""Withdrawal saga step: Locked funds -> available again (one ledger write, once)."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "release")
