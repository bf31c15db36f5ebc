"""DynamoDB items (pynamodb), one module per table: the ledger table and the ops table."""
