"""``GET /api/v1/payments/wallet/transactions``: the caller's history, newest first, filtered and paged."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.flows import wallets
from payments.http.resolver import create_resolver, current_caller, query_enum, query_int, query_str
from payments.http.views import wallet as views
from payments.ledger.types import TransactionStatus, TransactionType
from payments.platform.observability import logger

app = create_resolver()


@app.get("/api/v1/payments/wallet/transactions")
def handle_list_transactions() -> views.TransactionPageBody:
    caller = current_caller(app)
    page = wallets.list_transactions(
        caller.user_id,
        txn_type=query_enum(app, "type", TransactionType),
        status=query_enum(app, "status", TransactionStatus),
        skip=query_int(app, "skip", default=0, minimum=0, maximum=10_000),
        limit=query_int(app, "limit", default=20, minimum=1, maximum=wallets.MAX_PAGE_SIZE),
        cursor=query_str(app, "cursor", max_length=512),
    )
    return views.transaction_page(page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
