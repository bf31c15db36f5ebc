/** Retries and idempotency keys, with a scripted fetch (no stack needed). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createPaymentsClient, PaymentsApiError, PaymentsNetworkError } from "../src/index.js";

type Step = Response | Error;

/** A fetch that answers the scripted steps in order and records what it was sent. */
function scripted(...steps: Step[]) {
  const sent: { method: string; url: string; headers: Headers; body: string }[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    sent.push({ method: request.method, url: request.url, headers: request.headers, body: await request.text() });
    const step = steps.shift();
    if (step === undefined) {
      throw new Error("no more scripted answers");
    }
    if (step instanceof Error) {
      throw step;
    }
    return step;
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const envelope = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json(status, { success: false, error: { code, message } }, headers);
const initiated = {
  success: true,
  transaction_id: "txn_1",
  order_id: "order_1",
  amount: "10.00",
  currency: "INR",
  checkout_url: "https://example.test/checkout",
  key: "k",
  gateway: "MOCK",
};

function client(fetch: (request: Request) => Promise<Response>, waits: number[] = []) {
  const sleep = async (ms: number) => {
    waits.push(ms);
  };
  return createPaymentsClient({ baseUrl: "https://api.example.test/dev/", token: "jwt", fetch, sleep, backoffMs: 100 });
}

describe("requests", () => {
  test("carry the bearer token, JSON, a decimal-string amount and a fresh Idempotency-Key per POST", async () => {
    const { fetch, sent } = scripted(json(200, initiated), json(200, initiated));
    const payments = client(fetch);
    await payments.initiateDeposit({ amount: "10", payment_method_id: "pm_1" });
    await payments.initiateDeposit({ amount: "10", payment_method_id: "pm_1" });
    const [first, second] = sent;
    assert.ok(first && second);
    assert.equal(first.url, "https://api.example.test/dev/api/v1/payments/deposits/initiate");
    assert.equal(first.headers.get("Authorization"), "Bearer jwt");
    assert.equal(first.headers.get("Content-Type"), "application/json");
    assert.deepEqual(JSON.parse(first.body), { amount: "10.00", payment_method_id: "pm_1" });
    assert.match(first.headers.get("Idempotency-Key") ?? "", /^[0-9a-f-]{36}$/);
    assert.notEqual(first.headers.get("Idempotency-Key"), second.headers.get("Idempotency-Key"));
  });

  test("use the caller's Idempotency-Key, and getToken before every request", async () => {
    const { fetch, sent } = scripted(json(200, initiated), json(200, initiated));
    let issued = 0;
    const payments = createPaymentsClient({
      baseUrl: "https://api.example.test",
      getToken: () => `jwt${++issued}`,
      fetch,
    });
    await payments.initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" }, { idempotencyKey: "order-42" });
    await payments.initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" }, { idempotencyKey: "order-42" });
    assert.deepEqual(
      sent.map((request) => [request.headers.get("Idempotency-Key"), request.headers.get("Authorization")]),
      [
        ["order-42", "Bearer jwt1"],
        ["order-42", "Bearer jwt2"],
      ],
    );
  });

  test("GETs carry no Idempotency-Key", async () => {
    const { fetch, sent } = scripted(json(200, { payment_methods: [] }));
    assert.deepEqual(await client(fetch).listPaymentMethods(), []);
    assert.equal(sent[0]?.headers.has("Idempotency-Key"), false);
  });

  test("a malformed amount is refused before anything is sent", async () => {
    const { fetch, sent } = scripted();
    const payments = client(fetch);
    await assert.rejects(payments.initiateDeposit({ amount: "1e3", payment_method_id: "pm_1" }), {
      name: "AmountError",
    });
    await assert.rejects(payments.initiateDeposit({ amount: "10.001", payment_method_id: "pm_1" }), {
      name: "AmountError",
    });
    assert.equal(sent.length, 0);
  });
});

describe("retries", () => {
  test("a network error, a 502 and a 409 IDEMPOTENCY_IN_PROGRESS are retried with the same key", async () => {
    const waits: number[] = [];
    const { fetch, sent } = scripted(
      new TypeError("fetch failed"),
      envelope(502, "PAY_004", "The payment gateway did not answer"),
      envelope(409, "IDEMPOTENCY_IN_PROGRESS", "still running"),
      json(200, initiated),
    );
    const deposit = await client(fetch, waits).initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" });
    assert.equal(deposit.transaction_id, "txn_1");
    const keys = new Set(sent.map((request) => request.headers.get("Idempotency-Key")));
    assert.equal(keys.size, 1);
    assert.deepEqual(new Set(sent.map((request) => request.body)).size, 1);
    assert.deepEqual(waits, [100, 200, 400]);
  });

  test("429 waits Retry-After seconds", async () => {
    const waits: number[] = [];
    const { fetch } = scripted(
      envelope(429, "RATE_LIMITED", "Too many requests", { "Retry-After": "2" }),
      json(200, initiated),
    );
    await client(fetch, waits).initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" });
    assert.deepEqual(waits, [2000]);
  });

  test("a Retry-After beyond maxWaitMs is not waited for: the caller gets the error and retryAfter", async () => {
    const waits: number[] = [];
    const { fetch } = scripted(envelope(429, "RATE_LIMITED", "Too many requests", { "Retry-After": "300" }));
    const error = await client(fetch, waits)
      .initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PaymentsApiError);
    assert.deepEqual(
      [error.code, error.status, error.retryAfter, error.message],
      ["RATE_LIMITED", 429, 300, "Too many requests"],
    );
    assert.deepEqual(waits, []);
  });

  test("other 4xx answers are not retried", async () => {
    const { fetch, sent } = scripted(
      envelope(409, "IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used with a different request"),
    );
    await assert.rejects(client(fetch).initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" }), {
      name: "PaymentsApiError",
      code: "IDEMPOTENCY_CONFLICT",
      message: "This Idempotency-Key was used with a different request",
    });
    assert.equal(sent.length, 1);
  });

  test("no answer after the retries is a PaymentsNetworkError with the cause", async () => {
    const lost = new TypeError("fetch failed");
    const { fetch, sent } = scripted(lost, lost, lost, lost);
    const error = await client(fetch)
      .getBalance()
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PaymentsNetworkError);
    assert.equal(error.cause, lost);
    assert.match(
      error.message,
      /GET https:\/\/api\.example\.test\/dev\/api\/v1\/payments\/wallet\/balance: no answer after 4 attempts/,
    );
    assert.equal(sent.length, 4);
  });

  test("the caller's abort is not retried", async () => {
    const controller = new AbortController();
    const fetch = (request: Request) =>
      new Promise<Response>((_, reject) => {
        request.signal.addEventListener("abort", () => reject(request.signal.reason));
        controller.abort();
      });
    await assert.rejects(
      client(fetch).initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" }, { signal: controller.signal }),
      { name: "AbortError" },
    );
  });
});

describe("errors", () => {
  test("an answer that is not the envelope still names its status", async () => {
    const { fetch } = scripted(
      new Response("<html>Bad gateway</html>", {
        status: 400,
        statusText: "Bad Request",
        headers: { "x-amzn-RequestId": "req-1" },
      }),
    );
    const error = await client(fetch)
      .getBalance()
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PaymentsApiError);
    assert.deepEqual(
      [error.code, error.status, error.message, error.requestId],
      ["HTTP_400", 400, "HTTP 400 Bad Request: <html>Bad gateway</html>", "req-1"],
    );
  });

  test("the envelope's code, message and details, never [object Object]", async () => {
    const body = {
      success: false,
      error: { code: "PAY_005", message: "Transaction limit exceeded", details: { limit: "daily", remaining: "0.00" } },
    };
    const { fetch } = scripted(json(403, body, { "x-amzn-RequestId": "req-2" }));
    const error = await client(fetch)
      .initiateDeposit({ amount: "10.00", payment_method_id: "pm_1" })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof PaymentsApiError);
    assert.equal(String(error), "PaymentsApiError: Transaction limit exceeded");
    assert.deepEqual(error.details, { limit: "daily", remaining: "0.00" });
    assert.equal(error.requestId, "req-2");
  });
});

describe("health", () => {
  const health = (status: string) => ({ status, timestamp: "t", version: "v", database: {}, gateways: {} });

  test("an unhealthy 503 is the health document, asked once", async () => {
    const { fetch, sent } = scripted(json(503, health("unhealthy")));
    assert.equal((await client(fetch).health()).status, "unhealthy");
    assert.equal(sent.length, 1);
  });

  test("a 503 that is not the document is an error", async () => {
    const { fetch } = scripted(envelope(503, "SERVICE_BUSY", "Busy, retry"));
    await assert.rejects(client(fetch).health(), { name: "PaymentsApiError", code: "SERVICE_BUSY", status: 503 });
  });
});
