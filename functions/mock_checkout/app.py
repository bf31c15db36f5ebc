"""The Mock gateway's hosted checkout (dev and local only; the template leaves it out of prod).

``GET /mock-gateway/checkout/{order_id}`` shows the order with Pay and Decline buttons.
``POST /mock-gateway/checkout/{order_id}/pay`` is what those buttons call: the Mock gateway
records the payment, sends its signed webhook, and returns the payment id and signature; the
page then calls ``/deposits/confirm`` with them when it was opened with ``#token=<JWT>``, exactly
as a client app does with Razorpay's checkout handler.
"""

import html
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core.money import format_minor
from payments.gateways import registry
from payments.gateways.base import GatewayName
from payments.gateways.errors import GatewayRejected
from payments.http.bodies import MockPayBody, parse_body
from payments.http.resolver import create_resolver, error_response
from payments.http.views import mock_checkout as views
from payments.platform.observability import logger

app = create_resolver()


@app.exception_handler(GatewayRejected)
def _unknown_order(exc: GatewayRejected) -> Response:
    return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", str(exc))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Mock checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1.1rem;padding:.6rem 1.4rem;margin-right:.6rem}}#result{{margin-top:1.5rem;font-weight:600}}</style>
</head><body>
<h1>Mock gateway checkout</h1>
<p>Order <code id="order">{order_id}</code></p>
<p>Amount <strong id="amount">{amount} {currency}</strong></p>
<p>Status <span id="status">{status}</span></p>
<button id="pay">Pay</button><button id="decline">Decline</button>
<div id="result" role="status"></div>
<script>
const base = location.pathname.replace(/\\/mock-gateway\\/checkout\\/[^/]+$/, "");
const params = new URLSearchParams(location.hash.slice(1));
async function act(action) {{
  const result = document.getElementById("result");
  const paid = await fetch(location.pathname + "/pay", {{method: "POST",
    headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{action}})}}).then(r => r.json());
  document.getElementById("status").textContent = paid.status;
  if (paid.status !== "CAPTURED") {{ result.textContent = "Payment declined"; return; }}
  const token = params.get("token");
  if (!token) {{ result.textContent = "Payment captured (the webhook credits the wallet)"; return; }}
  const confirmed = await fetch(base + "/api/v1/payments/deposits/confirm", {{method: "POST",
    headers: {{"Content-Type": "application/json", "Authorization": "Bearer " + token}},
    body: JSON.stringify({{transaction_id: paid.reference, gateway_payment_id: paid.payment_id,
      gateway_data: {{mock_order_id: paid.order_id, mock_signature: paid.signature}}}})}}).then(r => r.json());
  result.textContent = confirmed.success ? "Payment successful" : "Confirmation failed: " + JSON.stringify(confirmed);
}}
document.getElementById("pay").onclick = () => act("pay");
document.getElementById("decline").onclick = () => act("decline");
</script></body></html>
"""


def _gateway() -> Any:
    return registry.build(GatewayName.MOCK)


@app.get("/mock-gateway/checkout/<order_id>")
def handle_checkout_page(order_id: str) -> Response:
    order = _gateway().order(order_id)
    page = PAGE.format(
        order_id=html.escape(order_id),
        amount=html.escape(format_minor(order.amount)),
        currency=html.escape(order.currency),
        status=html.escape(order.status),
    )
    return Response(HTTPStatus.OK, content_types.TEXT_HTML, page)


@app.post("/mock-gateway/checkout/<order_id>/pay")
def handle_checkout_pay(order_id: str) -> views.MockPaymentBody:
    body = parse_body(app, MockPayBody)
    gateway = _gateway()
    result = gateway.pay(order_id, decline=body.action == "decline")
    return views.paid(result, gateway.order(order_id).reference)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
