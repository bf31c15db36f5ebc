"""Withdrawal saga step: Store the task token while an admin decides (approval or manual review)."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "await_decision")
