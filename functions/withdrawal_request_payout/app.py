"""Withdrawal saga step: Store the task token, then ask the gateway for the payout (idempotent on the withdrawal id)."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "request_payout")
