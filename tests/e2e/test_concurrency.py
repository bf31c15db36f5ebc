"""200 concurrent debits of 1.00 on a wallet holding 100.00: exactly 100 succeed.

Each thread has its own DynamoDB client and goes through the ledger service against the local
stack's moto server. moto serializes requests (it is not atomic under concurrency, DynamoDB is),
so what this checks is our logic: conditions, not read-modify-write, decide who wins.
"""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import botocore.session
from pynamodb.connection import Connection

from payments.core.errors import InsufficientBalance
from payments.ledger.types import TransactionStatus, TransactionType
from payments.ledger.writer import Ledger, NewTransaction
from payments.store.ledger_table import ENTRY_PREFIX, WALLET_SK, WalletItem, user_pk
from tests.support.fixtures import LocalStack

THREADS = 200


def _own_ledger(moto_url: str, session: botocore.session.Session) -> Ledger:
    """A ledger with its own DynamoDB client. The botocore session (parsed service model) is
    shared only to keep creating 200 clients cheap; each client has its own connection pool."""
    connection = Connection(host=moto_url, region="us-east-1", max_pool_connections=1)
    connection._local.session = session
    assert connection.client is not None  # created now, in this thread, from the shared session
    return Ledger(connection)


def test_200_concurrent_debits_on_100_00(local_stack: LocalStack, user_id: str) -> None:
    session = botocore.session.get_session()
    ledgers = [_own_ledger(local_stack.moto, session) for _ in range(THREADS)]
    ledgers[0].credit(user_id, 10_000, NewTransaction("txn_seed", TransactionType.DEPOSIT, TransactionStatus.COMPLETED))
    start = threading.Barrier(THREADS)

    def debit(n: int) -> str:
        own = ledgers[n]
        change = NewTransaction(f"txn_{uuid.uuid4().hex}", TransactionType.ADJUSTMENT, TransactionStatus.COMPLETED)
        start.wait()
        try:
            own.debit(user_id, 100, change)
        except InsufficientBalance as refused:
            return refused.code
        return "ok"

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(debit, range(THREADS)))

    assert outcomes.count("ok") == 100
    assert outcomes.count("PAY_002") == 100
    dynamodb = local_stack.client("dynamodb")
    table = WalletItem.Meta.table_name
    wallet = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": user_pk(user_id)}, "sk": {"S": WALLET_SK}}, ConsistentRead=True
    )["Item"]
    assert {name: int(wallet.get(name, {"N": "0"})["N"]) for name in ("balance", "locked", "available")} == {
        "balance": 0,
        "locked": 0,
        "available": 0,
    }
    entries = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :entry)",
        ExpressionAttributeValues={":pk": {"S": user_pk(user_id)}, ":entry": {"S": ENTRY_PREFIX}},
        ConsistentRead=True,
    )["Items"]
    assert len(entries) == 101
    assert sum(int(entry["balance_delta"]["N"]) for entry in entries) == 0
