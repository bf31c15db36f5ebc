"""DynamoDB items of the ops table: operational records that expire (idempotency keys, webhook
events, circuit state, rate-limit windows, security events, the Mock gateway's own state).

A separate table with TTL, so the ledger table never expires anything. One ``pk`` key, no sort key.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from payments.platform.settings import settings


class _OpsTable(Model):
    """Operational records that expire (idempotency, webhook events, circuit state, the Mock
    gateway's own state): a separate table with TTL, so the ledger table never expires anything."""

    class Meta:
        abstract = True
        table_name = settings.ops_table_name
        region = settings.region

    pk = UnicodeAttribute(hash_key=True)
    expires_at = TTLAttribute(null=True)


class IdempotencyItem(_OpsTable):
    class Meta(_OpsTable.Meta):
        abstract = False

    request_hash = UnicodeAttribute()
    status = UnicodeAttribute()  # IN_PROGRESS | COMPLETED
    status_code = NumberAttribute(null=True)
    response_body = UnicodeAttribute(null=True)
    locked_until = NumberAttribute()


class WebhookEventItem(_OpsTable):
    """The spec's PaymentWebhook: every verified event, once (the key is the gateway's event id)."""

    class Meta(_OpsTable.Meta):
        abstract = False

    gateway = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    outcome = UnicodeAttribute()
    txn_id = UnicodeAttribute(null=True)
    raw_body = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()


class CircuitItem(_OpsTable):
    class Meta(_OpsTable.Meta):
        abstract = False

    failures = NumberAttribute(default=0)
    open_until = NumberAttribute(default=0)
    last_failure_at = NumberAttribute(null=True)  # epoch seconds, shown by GET /health


class MockGatewayItem(_OpsTable):
    """The Mock gateway's orders, payments, refunds and payouts (it is a whole gateway)."""

    class Meta(_OpsTable.Meta):
        abstract = False

    kind = UnicodeAttribute()  # ORDER | PAYMENT | REFUND | PAYOUT | DISPUTE
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()
    outcome = UnicodeAttribute()
    reference = UnicodeAttribute()  # the merchant's (our) reference: txn, refund or withdrawal id
    customer = UnicodeAttribute(null=True)  # the merchant's customer the object belongs to
    order_id = UnicodeAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    refunded = NumberAttribute(null=True)  # payments: what was refunded of them
    failure_reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class SecurityEventItem(_OpsTable):
    """A risk decision other than allow, with the indicators that led to it."""

    class Meta(_OpsTable.Meta):
        abstract = False

    user_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    transaction_type = UnicodeAttribute()
    reference = UnicodeAttribute()
    amount = NumberAttribute()
    score = NumberAttribute()
    indicators = UnicodeAttribute()
    ip_address = UnicodeAttribute(null=True)
    action_taken = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class RateLimitItem(_OpsTable):
    """Requests of one caller on one route in one fixed window."""

    class Meta(_OpsTable.Meta):
        abstract = False

    count = NumberAttribute(null=True)


class ReconciliationItem(_OpsTable):
    """A reconciliation run's report (``RECONCILIATION#<started>``, kept 90 days) and the pass's
    cursor (``RECONCILIATION#cursor``: where the next run continues through the ledger table)."""

    class Meta(_OpsTable.Meta):
        abstract = False

    body = UnicodeAttribute()  # JSON
