"""Withdrawal saga step: Decide allow / review / block for a withdrawal."""

from payments import withdrawals
from payments.steps import step_handler

lambda_handler = step_handler(withdrawals, "risk_check")
