"""Withdrawal saga step: Decide allow / review / block for a withdrawal."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "risk_check")
