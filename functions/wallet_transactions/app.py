"""``GET /api/v1/payments/wallet/transactions``: the caller's history, newest first, filtered and paged."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments import wallets
from payments.api import create_resolver, current_caller
from payments.ledger import TransactionStatus, TransactionType
from payments.observability import logger, tracer
from payments.schemas import TransactionListResponse

app = create_resolver()


@app.get("/api/v1/payments/wallet/transactions")
@tracer.capture_method
def handle_list_transactions(
    txn_type: Annotated[TransactionType | None, Query(alias="type")] = None,
    status: Annotated[TransactionStatus | None, Query()] = None,
    skip: Annotated[int, Query(ge=0, le=10_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=wallets.MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> TransactionListResponse:
    caller = current_caller(app)
    page = wallets.list_transactions(
        caller.user_id, skip=skip, limit=limit, txn_type=txn_type, status=status, cursor=cursor
    )
    return TransactionListResponse.from_page(page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
