"""Withdrawal saga step: Store the task token while an admin decides (approval or manual review)."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "await_decision")
