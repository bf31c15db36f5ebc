/**
 * An error answer is a PaymentsApiError carrying the envelope's code, message and details (the
 * spec's hook threw `new Error(data.error)`, whose message was "[object Object]").
 *
 *   npm run build && BASE_URL=http://127.0.0.1:3000 TOKEN=$(make -s token USER=alice) node dist/example/errors.js
 */
import { createPaymentsClient, PaymentsApiError } from "../src/index.js";

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:3000";
const client = createPaymentsClient({ baseUrl, token: process.env.TOKEN });
try {
  await client.initiateDeposit({ amount: "10.00", payment_method_id: "pm_missing" });
} catch (error) {
  if (!(error instanceof PaymentsApiError)) throw error;
  console.log(error.code, error.status, error.message, error.details); // PAY_003 404 Payment method not found
}
