"""The money flows: deposits, refunds, chargebacks, withdrawals (API and saga), webhooks, jobs."""
