/** The logic of usePayments: against the local stack, and with a fetch the test controls. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createPaymentsClient, PaymentsApiError, PaymentsController, type PaymentsState } from "../src/index.js";
import { BASE_URL, needsStack, tokenOf } from "./stack.js";

/** Every state the controller published, in order. */
function record(controller: PaymentsController): PaymentsState[] {
  const states: PaymentsState[] = [];
  controller.subscribe(() => states.push(controller.getSnapshot()));
  return states;
}

describe("against the local stack", needsStack, () => {
  test("initiate, pay, confirm: the balance follows, amounts stay strings", async () => {
    const client = createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("controller") });
    const controller = new PaymentsController(client);
    const states = record(controller);
    assert.equal((await controller.refreshBalance()).available_balance, "0.00");
    const method = await client.addPaymentMethod({ type: "CARD", gateway: "mock", token: "tok_mock_success" });

    const deposit = await controller.initiateDeposit("1000.5", method.id, { description: "top-up" });
    assert.equal(deposit.amount, "1000.50");
    assert.equal(controller.getSnapshot().deposit, deposit);
    const paid = await client.payMockCheckout(deposit.order_id);
    const confirmed = await controller.confirm({
      gateway_payment_id: paid.payment_id ?? "",
      gateway_data: { mock_order_id: deposit.order_id, mock_signature: paid.signature ?? "" },
    });

    assert.deepEqual(
      [confirmed.transaction_id, confirmed.status, confirmed.amount],
      [deposit.transaction_id, "COMPLETED", "1000.50"],
    );
    const { balance, deposit: pending, loading, error } = controller.getSnapshot();
    assert.deepEqual(
      [balance?.balance, balance?.available_balance, pending, loading, error],
      ["1000.50", "1000.50", null, false, null],
    );
    const loadingChanges = states.map((state) => state.loading).filter((loading, i, all) => loading !== all[i - 1]);
    assert.deepEqual(
      loadingChanges,
      [true, false, true, false, true, false],
      "loading while each call runs (the balance read after confirm included)",
    );
  });

  test("an error answer: its message in state.error, loading back to false, thrown to the caller", async () => {
    const controller = new PaymentsController(
      createPaymentsClient({ baseUrl: BASE_URL, token: tokenOf("controller_errors") }),
    );
    await assert.rejects(controller.initiateDeposit("10.00", "pm_missing"), {
      name: "PaymentsApiError",
      code: "PAY_003",
    });
    const { error, loading, deposit } = controller.getSnapshot();
    assert.ok(error instanceof PaymentsApiError);
    assert.deepEqual([error.message, error.status, loading, deposit], ["Payment method not found", 404, false, null]);
    controller.clearError();
    assert.equal(controller.getSnapshot().error, null);
  });
});

/** A fetch whose answers the test releases one by one. */
function gated() {
  const waiting: { path: string; answer: (response: Response) => void }[] = [];
  const fetch = (request: Request) =>
    new Promise<Response>((answer) => waiting.push({ path: new URL(request.url).pathname, answer }));
  return { fetch, waiting };
}
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const tick = () => new Promise((resolve) => setImmediate(resolve));
const balance = (available: string) => ({
  balance: available,
  locked_balance: "0.00",
  available_balance: available,
  currency: "INR",
  daily_limit: "10000.00",
  daily_used: "0.00",
  daily_remaining: "10000.00",
  monthly_limit: "100000.00",
  monthly_used: "0.00",
  monthly_remaining: "100000.00",
});

describe("state", () => {
  test("loading stays true until the last of two concurrent calls ends (the spec's hook cleared it on the first)", async () => {
    const { fetch, waiting } = gated();
    const controller = new PaymentsController(createPaymentsClient({ baseUrl: "https://api.test", token: "t", fetch }));
    const first = controller.refreshBalance();
    const second = controller.refreshBalance();
    await tick();
    assert.equal(waiting.length, 2);
    waiting[0]?.answer(json(200, balance("1.00")));
    await first;
    assert.equal(controller.getSnapshot().loading, true);
    waiting[1]?.answer(json(200, balance("2.00")));
    await second;
    assert.deepEqual([controller.getSnapshot().loading, controller.getSnapshot().balance?.balance], [false, "2.00"]);
  });

  test("a malformed amount is an error in state, and nothing is sent", async () => {
    const { fetch, waiting } = gated();
    const controller = new PaymentsController(createPaymentsClient({ baseUrl: "https://api.test", token: "t", fetch }));
    await assert.rejects(controller.initiateDeposit("10.001", "pm_1"), { name: "AmountError" });
    assert.match(controller.getSnapshot().error?.message ?? "", /more than 2 decimal places/);
    assert.equal(waiting.length, 0);
  });

  test("confirm needs a deposit; a failed balance read after it does not fail the confirmation", async () => {
    const { fetch, waiting } = gated();
    const controller = new PaymentsController(
      createPaymentsClient({ baseUrl: "https://api.test", token: "t", fetch, maxRetries: 0 }),
    );
    await assert.rejects(controller.confirm({ gateway_payment_id: "pay_1" }), /no deposit to confirm/);

    const confirming = controller.confirm({ transaction_id: "txn_1", gateway_payment_id: "pay_1" });
    await tick();
    waiting
      .shift()
      ?.answer(
        json(200, { success: true, transaction_id: "txn_1", status: "COMPLETED", amount: "5.00", currency: "INR" }),
      );
    await tick();
    assert.equal(waiting[0]?.path, "/api/v1/payments/wallet/balance");
    waiting.shift()?.answer(json(503, { success: false, error: { code: "SERVICE_BUSY", message: "Busy, retry" } }));
    assert.equal((await confirming).status, "COMPLETED");
    assert.deepEqual(
      [controller.getSnapshot().error?.message, controller.getSnapshot().loading],
      ["Busy, retry", false],
    );
  });

  test("snapshots change identity only on change; unsubscribe stops notifications", async () => {
    const controller = new PaymentsController(createPaymentsClient({ baseUrl: "https://api.test" }));
    const before = controller.getSnapshot();
    controller.clearError();
    assert.equal(controller.getSnapshot(), before);
    let calls = 0;
    const unsubscribe = controller.subscribe(() => (calls += 1));
    unsubscribe();
    await assert.rejects(controller.initiateDeposit("1e3", "pm_1"));
    assert.equal(calls, 0);
    assert.notEqual(controller.getSnapshot(), before);
  });
});
