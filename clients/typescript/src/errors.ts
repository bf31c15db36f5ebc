import type { components } from "./schema.js";

/** The API's error envelope: `{"success": false, "error": {"code", "message", "details"}}`. */
export type ErrorEnvelope = components["schemas"]["Error"];

/**
 * The API answered with an error. `message` is the envelope's message (never "[object Object]"),
 * `code` its code (PAY_001 ... PAY_006, RATE_LIMITED, VALIDATION_ERROR, ...: the README's error
 * table), `details` its details (`field`, `limit`, `remaining`, `transaction_id`, ...).
 * `requestId` is API Gateway's `x-amzn-RequestId`, to quote in a support request.
 */
export class PaymentsApiError extends Error {
  override readonly name = "PaymentsApiError";
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;
  /** Seconds the API asked us to wait (`Retry-After`, sent with 429 and 503), else null. */
  readonly retryAfter: number | null;

  constructor(init: {
    code: string;
    message: string;
    status: number;
    details?: Record<string, unknown>;
    requestId?: string | null;
    retryAfter?: number | null;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.retryAfter = init.retryAfter ?? null;
  }

  /**
   * The error of an answer that is not 2xx. A body that is not the envelope (a proxy's HTML
   * page, an empty 502) still gives an error with the status, code `HTTP_<status>`.
   */
  static fromResponse(response: Response, body: unknown): PaymentsApiError {
    const common = {
      status: response.status,
      requestId: response.headers.get("x-amzn-RequestId"),
      retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
    };
    if (isErrorEnvelope(body)) {
      const { code, message, details } = body.error;
      return new PaymentsApiError({ ...common, code, message, details });
    }
    const text = typeof body === "string" ? body.trim().slice(0, 200) : "";
    const message = `HTTP ${response.status} ${response.statusText}`.trim() + (text ? `: ${text}` : "");
    return new PaymentsApiError({ ...common, code: `HTTP_${response.status}`, message });
  }
}

/** No answer from the API after the retries (connection refused or reset, timeout). A POST may
 * have been applied: send it again with the same `idempotencyKey` to learn its outcome. */
export class PaymentsNetworkError extends Error {
  override readonly name = "PaymentsNetworkError";
}

export function isErrorEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== "object" || body === null || !("error" in body)) {
    return false;
  }
  const error: unknown = body.error;
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof error.code === "string" &&
    "message" in error &&
    typeof error.message === "string"
  );
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterSeconds(header: string | null): number | null {
  if (header === null || header.trim() === "") {
    return null;
  }
  const seconds = Number(header);
  if (Number.isFinite(seconds)) {
    return Math.max(seconds, 0);
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max((date - Date.now()) / 1000, 0);
}
