"""Domain events for client backends: derived from committed ledger changes (the ledger table's
DynamoDB stream), published to the stack's EventBridge bus. Kept empty so that the derivation can
be imported without boto3's EventBridge client."""
