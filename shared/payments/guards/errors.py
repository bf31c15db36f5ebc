"""Refusals by the guards: card data in a request, too many requests."""

from __future__ import annotations

from http import HTTPStatus

from payments.core.errors import PaymentError


class CardDataRefused(PaymentError):
    code = "CARD_DATA_REFUSED"
    default_message = (
        "Card numbers and security codes are never accepted: tokenize the card with the gateway's "
        "checkout or SDK and send its token"
    )


class RateLimited(PaymentError):
    code = "RATE_LIMITED"
    status = HTTPStatus.TOO_MANY_REQUESTS
    default_message = "Too many requests; retry after the number of seconds in Retry-After"

    def __init__(self, retry_after: int, limit: int, window: int) -> None:
        super().__init__(limit=limit, window_seconds=window, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}
