/** The client against the local stack: errors from the real envelope, a lost answer retried under
 * its key, and every wallet operation once. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createPaymentsClient, PaymentsApiError, type PaymentsClient, unwrap } from "../src/index.js";
import { BASE_URL, needsStack, tokenOf } from "./stack.js";

async function apiError(pending: Promise<unknown>): Promise<PaymentsApiError> {
  const error = await pending.then(
    () => assert.fail("expected an error answer"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof PaymentsApiError, `not a PaymentsApiError: ${String(error)}`);
  return error;
}

/** Stores a Mock method, deposits `amount` and confirms it the way the checkout page would. */
async function depositPaid(client: PaymentsClient, amount: string) {
  const method = await client.addPaymentMethod({ type: "CARD", gateway: "mock", token: "tok_mock_success" });
  const deposit = await client.initiateDeposit({ amount, payment_method_id: method.id });
  const paid = await client.payMockCheckout(deposit.order_id);
  assert.equal(paid.status, "CAPTURED");
  const confirmed = await client.confirmDeposit({
    transaction_id: deposit.transaction_id,
    gateway_payment_id: paid.payment_id ?? assert.fail("no payment id"),
    gateway_data: { mock_order_id: deposit.order_id, mock_signature: paid.signature ?? assert.fail("no signature") },
  });
  return { method, deposit, confirmed };
}

describe("error answers", needsStack, () => {
  test("a deposit with a payment method that does not exist: PAY_003 with the envelope's message", async () => {
    const client = createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("errors") });
    const error = await apiError(client.initiateDeposit({ amount: "10.00", payment_method_id: "pm_missing" }));
    assert.equal(error.message, "Payment method not found");
    assert.equal(String(error), "PaymentsApiError: Payment method not found");
    assert.doesNotMatch(`${error.message} ${error.stack}`, /\[object Object\]/);
    assert.deepEqual([error.code, error.status, error.details], ["PAY_003", 404, { payment_method_id: "pm_missing" }]);
    assert.match(error.requestId ?? "", /\S/);
  });

  test("no token: 401 UNAUTHORIZED", async () => {
    const error = await apiError(createPaymentsClient({ baseUrl: BASE_URL }).getBalance());
    assert.deepEqual(
      [error.code, error.status, error.message],
      ["UNAUTHORIZED", 401, "Missing or invalid bearer token"],
    );
  });

  test("amounts, gateways and balances the API refuses", async () => {
    const client = createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("errors") });
    const card = await client.addPaymentMethod({ type: "CARD", gateway: "mock", token: "tok_mock_success" });
    const zero = await apiError(client.initiateDeposit({ amount: "0.00", payment_method_id: card.id }));
    assert.deepEqual([zero.code, zero.status], ["PAY_001", 400]);
    const razorpay = await client.addPaymentMethod({ type: "CARD", gateway: "razorpay", token: "token_RZP_card" });
    const notHere = await apiError(client.initiateDeposit({ amount: "10.00", payment_method_id: razorpay.id }));
    assert.deepEqual(
      [notHere.code, notHere.status, notHere.details],
      ["GATEWAY_NOT_CONFIGURED", 400, { gateway: "razorpay" }],
    );
    const short = await apiError(client.initiateWithdrawal({ amount: "5000.00", payment_method_id: card.id }));
    assert.deepEqual([short.code, short.status], ["PAY_002", 402]);
  });
});

describe("retries against the stack", needsStack, () => {
  test("a POST whose answer was lost is retried under its key and applied once", async () => {
    let attempts = 0;
    const losesFirstPostAnswer = async (request: Request) => {
      const response = await fetch(request);
      if (request.method === "POST" && request.url.endsWith("/deposits/initiate") && attempts++ === 0) {
        throw new TypeError("fetch failed: connection reset after the request was sent");
      }
      return response;
    };
    const token = tokenOf("retry");
    const client = createPaymentsClient({ baseUrl: BASE_URL, token, fetch: losesFirstPostAnswer, backoffMs: 50 });
    const method = await client.addPaymentMethod({ type: "CARD", gateway: "mock", token: "tok_mock_success" });
    const deposit = await client.initiateDeposit({ amount: "250.00", payment_method_id: method.id });
    assert.equal(attempts, 2);
    const page = await client.listTransactions({ type: "DEPOSIT" });
    assert.deepEqual(
      page.transactions.map((txn) => [txn.id, txn.amount, txn.status]),
      [[deposit.transaction_id, "250.00", "PENDING"]],
    );
  });

  test("the same Idempotency-Key answers the first response again (the typed raw client)", async () => {
    const client = createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("retry") });
    const body = { type: "UPI", gateway: "mock", token: "tok_mock_success" } as const;
    const headers = { "Idempotency-Key": `ts-${crypto.randomUUID()}` };
    const first = await client.api.POST("/api/v1/payments/methods", { body, params: { header: headers } });
    const again = await client.api.POST("/api/v1/payments/methods", { body, params: { header: headers } });
    assert.equal(again.data?.payment_method.id, first.data?.payment_method.id);
    assert.equal(again.response.headers.get("Idempotent-Replayed"), "true");
    const conflict = await apiError(
      unwrap(
        client.api.POST("/api/v1/payments/methods", { body: { ...body, type: "WALLET" }, params: { header: headers } }),
      ),
    );
    assert.deepEqual([conflict.code, conflict.status], ["IDEMPOTENCY_CONFLICT", 409]);
  });
});

describe("every wallet operation", needsStack, () => {
  test("deposit, refund, withdraw, read, delete", async () => {
    const client = createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("lifecycle") });
    assert.match((await client.health()).status, /^(healthy|degraded)$/);
    const { method, deposit, confirmed } = await depositPaid(client, "500.00");
    assert.deepEqual([confirmed.status, confirmed.amount], ["COMPLETED", "500.00"]);

    const refund = await client.requestRefund({
      transaction_id: deposit.transaction_id,
      amount: "100",
      reason: "partial",
    });
    assert.deepEqual([refund.transaction_id, refund.amount], [deposit.transaction_id, "100.00"]);

    const bank = await client.addPaymentMethod({
      type: "BANK_TRANSFER",
      gateway: "mock",
      token: "tok_mock_success",
      metadata: { last_four: "6789", label: "savings" },
    });
    assert.equal(bank.payout_capable, true);
    const withdrawal = await client.initiateWithdrawal({ amount: "50.5", payment_method_id: bank.id });
    assert.equal(withdrawal.amount, "50.50");
    const status = await client.getWithdrawalStatus(withdrawal.withdrawal_id);
    assert.deepEqual(
      [status.withdrawal_id, status.amount, status.payment_method_id],
      [withdrawal.withdrawal_id, "50.50", bank.id],
    );

    const page = await client.listTransactions({ type: "DEPOSIT", status: "COMPLETED", limit: 10 });
    assert.deepEqual(
      page.transactions.map((txn) => txn.id),
      [deposit.transaction_id],
    );
    const methods = await client.listPaymentMethods();
    assert.deepEqual(methods.map((m) => m.id).sort(), [method.id, bank.id].sort());
    const deleted = await client.deletePaymentMethod(method.id);
    assert.deepEqual(deleted, { success: true, id: method.id });
    const gone = await apiError(client.deletePaymentMethod(method.id));
    assert.deepEqual([gone.code, gone.status], ["PAY_003", 404]);
  });
});
