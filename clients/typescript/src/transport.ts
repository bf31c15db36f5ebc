import { PaymentsNetworkError, isErrorEnvelope, retryAfterSeconds } from "./errors.js";

/** What openapi-fetch calls to send a request. */
export type FetchFn = (request: Request) => Promise<Response>;

export interface RetryOptions {
  /** Attempts after the first one (default 3). 0 turns retries off. */
  maxRetries?: number;
  /** First backoff in ms, doubled per attempt (default 500). */
  backoffMs?: number;
  /** The longest wait in ms (default 30 000). A `Retry-After` longer than this is not waited
   * for: the answer goes to the caller (a 429 then throws with `retryAfter`). */
  maxWaitMs?: number;
  /** Each attempt is abandoned (and retried) after this many ms (default 30 000). */
  timeoutMs?: number;
  /** Replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** 5xx and 429 carry no outcome yet; any other 4xx is the answer (retrying gets it again). */
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `fetch` with retries of network errors, timeouts, 5xx, 429 and 409 `IDEMPOTENCY_IN_PROGRESS`.
 * Every attempt sends a clone of the same Request, so a POST keeps its `Idempotency-Key` and the
 * API answers the first outcome instead of moving money twice.
 */
export function retryingFetch(send: FetchFn, options: RetryOptions = {}): FetchFn {
  const { maxRetries = 3, backoffMs = 500, maxWaitMs = 30_000, timeoutMs = 30_000, sleep = delay } = options;
  const backoff = (attempt: number): number => Math.min(backoffMs * 2 ** (attempt - 1), maxWaitMs);

  return async (request) => {
    for (let attempt = 1; ; attempt += 1) {
      let response: Response;
      try {
        response = await send(new Request(request.clone(), { signal: attemptSignal(request.signal, timeoutMs) }));
      } catch (error) {
        if (request.signal.aborted) {
          throw error; // the caller gave up: not ours to retry
        }
        if (attempt > maxRetries) {
          const reason = error instanceof Error ? error.message : String(error);
          const message = `${request.method} ${request.url}: no answer after ${attempt} attempts: ${reason}`;
          throw new PaymentsNetworkError(message, { cause: error });
        }
        await sleep(backoff(attempt));
        continue;
      }
      if (attempt > maxRetries || !(await retryable(response))) {
        return response;
      }
      const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
      const wait = retryAfter === null ? backoff(attempt) : retryAfter * 1000;
      if (wait > maxWaitMs) {
        return response;
      }
      await response.body?.cancel();
      await sleep(wait);
    }
  };
}

/** The caller's signal (if it can be combined) and this attempt's timeout. */
function attemptSignal(caller: AbortSignal, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return typeof AbortSignal.any === "function" ? AbortSignal.any([caller, timeout]) : timeout;
}

async function retryable(response: Response): Promise<boolean> {
  if (RETRY_STATUSES.has(response.status)) {
    return true;
  }
  if (response.status !== 409) {
    return false;
  }
  const body: unknown = await response
    .clone()
    .json()
    .catch(() => null);
  return isErrorEnvelope(body) && body.error.code === "IDEMPOTENCY_IN_PROGRESS";
}
