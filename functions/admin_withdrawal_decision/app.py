"""``POST /api/v1/payments/admin/withdrawals/{withdrawal_id}/{decision}`` (role admin):
approve or reject a withdrawal waiting for review; resumes its saga exactly once."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.errors import NotFound
from payments.flows import withdrawals
from payments.http.resolver import create_resolver, current_caller
from payments.http.views import withdrawals as views
from payments.platform.observability import logger

app = create_resolver()
DECISIONS = {"approve": True, "reject": False}


@app.post("/api/v1/payments/admin/withdrawals/<withdrawal_id>/<decision>")
def handle_withdrawal_decision(withdrawal_id: str, decision: str) -> views.DecisionBody:
    if decision not in DECISIONS:
        raise NotFound("Use /approve or /reject")
    return views.decision(withdrawals.decide(current_caller(app), withdrawal_id, DECISIONS[decision]))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
