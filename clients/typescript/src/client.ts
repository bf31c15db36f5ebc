/**
 * `createPaymentsClient`: the API of docs/openapi.json over openapi-fetch, typed by the generated
 * `schema.d.ts`, with the bearer JWT, an `Idempotency-Key` on every POST, safe retries, and
 * errors thrown as {@link PaymentsApiError} carrying the envelope's code and message.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import { PaymentsApiError } from "./errors.js";
import { type Amount, normalizeAmount } from "./money.js";
import type { components, paths } from "./schema.js";
import { type FetchFn, type RetryOptions, retryingFetch } from "./transport.js";

type Schemas = components["schemas"];
export type Balance = Schemas["Balance"];
export type Transaction = Schemas["Transaction"];
export type TransactionPage = Schemas["TransactionPage"];
export type PaymentMethod = Schemas["Method"];
export type NewPaymentMethod = Schemas["MethodCreateRequest"];
export type DepositInitiated = Schemas["DepositInitiated"];
export type DepositConfirmed = Schemas["DepositConfirmed"];
export type WithdrawalStarted = Schemas["WithdrawalStarted"];
export type WithdrawalStatus = Schemas["WithdrawalStatus"];
export type Refund = Schemas["Refund"];
export type MockPayment = Schemas["MockPayment"];
export type Health = Schemas["Health"];
export type TransactionQuery = NonNullable<paths["/api/v1/payments/wallet/transactions"]["get"]["parameters"]["query"]>;

/** The API takes an amount as a string or a JSON number; this client sends decimal strings only. */
type WithAmount<T> = Omit<T, "amount"> & { amount: Amount };
export type DepositRequest = WithAmount<Schemas["DepositInitiateRequest"]>;
export type DepositConfirmation = Schemas["DepositConfirmRequest"];
export type WithdrawalRequest = WithAmount<Schemas["WithdrawalInitiateRequest"]>;
/** Without `amount`, all that remains refundable. */
export type RefundRequest = Omit<Schemas["RefundRequest"], "amount"> & { amount?: Amount };

export interface PaymentsClientOptions extends RetryOptions {
  /** The stack's API URL (its `ApiUrl` output), or `http://127.0.0.1:3000` for `make run`. */
  baseUrl: string;
  /** A bearer JWT for every request. */
  token?: string;
  /** Or a function asked before every request (to refresh a short-lived token). */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Another fetch (tests, instrumentation); retries wrap it. */
  fetch?: FetchFn;
}

export interface PostOptions {
  /** Choose the key (e.g. your order id) to retry across page loads; by default a random UUID,
   * kept for every retry of this call. The same key with another body is 409 IDEMPOTENCY_CONFLICT. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** What an openapi-fetch call resolves to: `data` on 2xx, else `error` (the parsed body). */
type Answer = { data?: unknown; error?: unknown; response: Response };

/** The data of a 2xx answer, else a {@link PaymentsApiError} from the error envelope. */
export async function unwrap<A extends Answer>(pending: Promise<A>): Promise<Exclude<A["data"], undefined>> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    throw PaymentsApiError.fromResponse(response, error);
  }
  return data as Exclude<A["data"], undefined>;
}

export type PaymentsClient = ReturnType<typeof createPaymentsClient>;

export function createPaymentsClient(options: PaymentsClientOptions) {
  const { baseUrl, token, getToken, fetch = (request: Request) => globalThis.fetch(request), ...retry } = options;
  const api: Client<paths> = createClient<paths>({ baseUrl, fetch: retryingFetch(fetch, retry) });
  const once = retryingFetch(fetch, { ...retry, maxRetries: 0 });
  const headers: Middleware = {
    async onRequest({ request }) {
      const bearer = getToken ? await getToken() : token;
      if (bearer) {
        request.headers.set("Authorization", `Bearer ${bearer}`);
      }
      if (request.method === "POST" && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", crypto.randomUUID());
      }
      return request;
    },
  };
  api.use(headers);
  const key = (post?: PostOptions) => ({ header: { "Idempotency-Key": post?.idempotencyKey } });

  return {
    /** The typed openapi-fetch client for any operation of the document (auth, keys and retries
     * included); wrap a call in {@link unwrap} to get its data or a PaymentsApiError. */
    api,

    /** The health document, also when it reports `unhealthy` with 503: a monitor wants the body,
     * and gets it at once (no retries). */
    health: async (): Promise<Health> => {
      const answer = await api.GET("/health", { fetch: once });
      const body: unknown = answer.error;
      if (answer.response.status === 503 && typeof body === "object" && body !== null && "status" in body) {
        return body as Health;
      }
      return unwrap(Promise.resolve(answer));
    },

    getBalance: () => unwrap(api.GET("/api/v1/payments/wallet/balance")),

    listTransactions: (query: TransactionQuery = {}) =>
      unwrap(api.GET("/api/v1/payments/wallet/transactions", { params: { query } })),

    addPaymentMethod: async (method: NewPaymentMethod, post?: PostOptions) =>
      (await unwrap(api.POST("/api/v1/payments/methods", { body: method, params: key(post), signal: post?.signal })))
        .payment_method,

    listPaymentMethods: async () => (await unwrap(api.GET("/api/v1/payments/methods"))).payment_methods,

    deletePaymentMethod: (methodId: string) =>
      unwrap(api.DELETE("/api/v1/payments/methods/{method_id}", { params: { path: { method_id: methodId } } })),

    /** A PENDING deposit and an order at the gateway for the client to pay. */
    initiateDeposit: async (deposit: DepositRequest, post?: PostOptions) =>
      unwrap(
        api.POST("/api/v1/payments/deposits/initiate", {
          body: { ...deposit, amount: normalizeAmount(deposit.amount) },
          params: key(post),
          signal: post?.signal,
        }),
      ),

    /** The gateway's proof of payment; idempotent (the wallet is credited once, whoever is first). */
    confirmDeposit: (confirmation: DepositConfirmation, post?: PostOptions) =>
      unwrap(
        api.POST("/api/v1/payments/deposits/confirm", { body: confirmation, params: key(post), signal: post?.signal }),
      ),

    initiateWithdrawal: async (withdrawal: WithdrawalRequest, post?: PostOptions) =>
      unwrap(
        api.POST("/api/v1/payments/withdrawals/initiate", {
          body: { ...withdrawal, amount: normalizeAmount(withdrawal.amount) },
          params: key(post),
          signal: post?.signal,
        }),
      ),

    getWithdrawalStatus: (withdrawalId: string) =>
      unwrap(
        api.GET("/api/v1/payments/withdrawals/{withdrawal_id}/status", {
          params: { path: { withdrawal_id: withdrawalId } },
        }),
      ),

    requestRefund: async (refund: RefundRequest, post?: PostOptions) =>
      unwrap(
        api.POST("/api/v1/payments/refunds", {
          body: { ...refund, ...(refund.amount === undefined ? {} : { amount: normalizeAmount(refund.amount) }) },
          params: key(post),
          signal: post?.signal,
        }),
      ),

    /** Press Pay (or Decline) on the Mock gateway's checkout page: stacks with the Mock only
     * (`make run`, tests). The answer's `payment_id` and `signature` confirm the deposit. */
    payMockCheckout: (orderId: string, action: "pay" | "decline" = "pay") =>
      unwrap(
        api.POST("/mock-gateway/checkout/{order_id}/pay", {
          params: { path: { order_id: orderId } },
          body: { action },
        }),
      ),
  };
}
