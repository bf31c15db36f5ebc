"""Withdrawal saga step: After a timeout or error: ask the gateway where the payout stands."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "verify_payout")
