"""The ledger: the only writer of balances, its vocabulary, and reconciliation against its entries.

Kept empty so that ``payments.ledger.types`` can be imported without the write machinery."""
