"""What the Mock checkout's pay button answers (stacks with the Mock only)."""

from __future__ import annotations

from typing import Any

from typing_extensions import TypedDict


class MockPaymentBody(TypedDict):
    order_id: str
    payment_id: str | None
    status: str  # CAPTURED, or FAILED when declined
    signature: str | None  # what a client sends to /deposits/confirm, as Razorpay's checkout gives it
    failure_reason: str | None
    reference: str  # our deposit's transaction id


def paid(result: dict[str, Any], reference: str) -> MockPaymentBody:
    return {
        "order_id": result["order_id"],
        "payment_id": result["payment_id"],
        "status": result["status"],
        "signature": result["signature"],
        "failure_reason": result["failure_reason"],
        "reference": reference,
    }
