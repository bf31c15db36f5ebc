"""Security events (the spec's Security Logs): every risk decision is logged as structured JSON;
decisions other than allow are also stored (ops table, kept a year) for review, and audited
(``fraud_decision`` in the user's audit chain). An allowed deposit is audited by its own record."""

from __future__ import annotations

from datetime import timedelta

from payments.audit import records
from payments.core.clock import utcnow
from payments.core.ids import new_ulid
from payments.guards.risk import Assessment, Decision
from payments.platform.observability import logger, metrics
from payments.store.ops_table import SecurityEventItem

RETENTION = timedelta(days=365)
_ACTIONS = {
    Decision.ALLOW: "none",
    Decision.REVIEW: "additional_verification_required",
    Decision.BLOCK: "blocked",
}


def record(user_id: str, kind: str, amount: int, assessment: Assessment, ip_address: str | None, ref: str) -> None:
    event = {
        "event_type": "suspicious_activity" if assessment.decision != Decision.ALLOW else "risk_assessed",
        "user_id": user_id,
        "transaction_type": kind,
        "reference": ref,
        "amount_minor": amount,
        "score": assessment.score,
        "indicators": list(assessment.indicators),
        "ip_address": ip_address,
        "action_taken": _ACTIONS[assessment.decision],
    }
    logger.info("security event", extra={"security_event": event})
    if assessment.decision == Decision.ALLOW:
        return
    metrics.add_metric(name="SuspiciousActivity", unit="Count", value=1)
    records.record_event(
        "fraud_decision",
        user_id,
        transaction_id=ref if kind == "WITHDRAWAL" else None,
        amount=amount,
        status=str(assessment.decision),
        details={
            "transaction_type": kind,
            "score": assessment.score,
            "indicators": ",".join(assessment.indicators),
            "action_taken": event["action_taken"],
        },
    )
    SecurityEventItem(
        f"SECURITY#{new_ulid()}",
        user_id=user_id,
        event_type=event["event_type"],
        transaction_type=kind,
        reference=ref,
        amount=amount,
        score=assessment.score,
        indicators=",".join(assessment.indicators),
        ip_address=ip_address,
        action_taken=event["action_taken"],
        created_at=utcnow(),
        expires_at=RETENTION,
    ).save()
