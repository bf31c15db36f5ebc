"""Errors of the money flows. Client-facing ones subclass :class:`PaymentError`; the two saga
signals at the end are matched by name in ``statemachines/withdrawal.asl.json`` (Retry/Catch) and
never reach a client."""

from __future__ import annotations

from http import HTTPStatus

from payments.core.errors import PaymentError


class PaymentDeclined(PaymentError):
    code = "PAYMENT_DECLINED"
    status = HTTPStatus.PAYMENT_REQUIRED
    default_message = "The payment was declined"


class SignatureRejected(PaymentError):
    code = "INVALID_SIGNATURE"
    default_message = "The payment confirmation does not verify; the deposit stays pending"


class WebhookRefused(PaymentError):
    code = "WEBHOOK_REFUSED"
    status = HTTPStatus.BAD_REQUEST
    default_message = "Webhook signature verification failed"


class SourceNotAllowed(PaymentError):
    code = "WEBHOOK_SOURCE_NOT_ALLOWED"
    status = HTTPStatus.FORBIDDEN
    default_message = "Webhook source address is not allowed"


class WebhookNotMatched(PaymentError):
    """A verified event for something we cannot find yet: the gateway retries, nothing is recorded."""

    code = "WEBHOOK_RETRY_LATER"
    status = HTTPStatus.SERVICE_UNAVAILABLE
    default_message = "The event refers to a record that is not known yet; retry later"


class TransientGatewayError(Exception):
    """The gateway is unavailable: the state machine retries this step with backoff."""


class PayoutRejectedError(Exception):
    """The gateway refused the payout: the saga releases the funds."""
