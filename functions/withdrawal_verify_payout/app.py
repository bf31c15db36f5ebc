"""Withdrawal saga step: After a timeout or error: ask the gateway where the payout stands."""

from payments.flows import withdrawal_saga
from payments.platform.step_handler import step_handler

lambda_handler = step_handler(withdrawal_saga, "verify_payout")
