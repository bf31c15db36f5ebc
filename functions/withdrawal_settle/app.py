"""Withdrawal saga step: Locked funds -> paid out (one ledger write, once)."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "settle")
