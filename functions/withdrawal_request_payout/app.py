"""Withdrawal saga step: Store the task token, then ask the gateway for the payout (idempotent on the withdrawal id)."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "request_payout")
