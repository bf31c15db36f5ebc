/**
 * A deposit on the Mock gateway, end to end, as a web or Node app makes it: store a payment
 * method, initiate the deposit, pay it at the Mock checkout, confirm it, read the balance.
 *
 *   npm run build && BASE_URL=http://127.0.0.1:3000 TOKEN=$(make -s token USER=alice) node dist/example/deposit.js
 *
 * tests/examples.test.ts runs this file against the local stack, and checks that the README
 * snippets are verbatim pieces of the examples (the import reads "wallet-payments-client" there).
 */
import { createPaymentsClient } from "../src/index.js";

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:3000";
const client = createPaymentsClient({ baseUrl, token: process.env.TOKEN });
const method = await client.addPaymentMethod({ type: "CARD", gateway: "mock", token: "tok_mock_success" });
const deposit = await client.initiateDeposit({ amount: "1000.50", payment_method_id: method.id });
const paid = await client.payMockCheckout(deposit.order_id); // the user pays at deposit.checkout_url
if (paid.payment_id === null || paid.signature === null) throw new Error(`not paid: ${paid.failure_reason}`);
const confirmed = await client.confirmDeposit({
  transaction_id: deposit.transaction_id,
  gateway_payment_id: paid.payment_id,
  gateway_data: { mock_order_id: deposit.order_id, mock_signature: paid.signature },
});
const balance = await client.getBalance(); // amounts are strings, never floats
console.log(confirmed.status, balance.available_balance); // COMPLETED 1000.50
