"""Withdrawal saga step: Locked funds -> available again (one ledger write, once)."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "release")
