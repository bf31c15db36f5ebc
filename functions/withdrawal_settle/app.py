"""Withdrawal saga step: Locked funds -> paid out (one ledger write, once)."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "settle")
