/**
 * Amounts without floating point.
 *
 * The API speaks decimal strings with at most two places ("1000.50"); a JavaScript `number`
 * cannot hold 0.10 exactly (0.1 + 0.2 is 0.30000000000000004), and `"1000.10" * 100` is
 * 100009.99999999999. So amounts stay strings in this package, and arithmetic happens on integer
 * minor units (paise, cents) as `bigint`, converted by string manipulation only.
 */

/** Digits after the point: the API's amounts have two (INR paise, USD cents). */
export const MINOR_DIGITS = 2;

const SCALE = 10n ** BigInt(MINOR_DIGITS);
/** An optional minus, digits, and optionally a point followed by digits. No exponent, no "+", no ",". */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A decimal string the API accepts or answers, e.g. "1000.50". */
export type Amount = string;

/** The input is not a plain decimal amount with at most {@link MINOR_DIGITS} places. */
export class AmountError extends Error {
  override readonly name = "AmountError";
}

/**
 * "1000.50" -> 100050n. Refuses anything but a plain decimal string ("1e3", "1,000", " 1",
 * ".5", "NaN", a number) and more than two decimal places ("10.001"): rounding money silently is
 * a bug, so the caller decides.
 */
export function toMinorUnits(amount: Amount): bigint {
  if (typeof amount !== "string") {
    throw new AmountError(`amounts are decimal strings, never ${typeof amount}: ${String(amount)}`);
  }
  const match = DECIMAL.exec(amount);
  if (match === null) {
    throw new AmountError(`not a decimal amount: ${JSON.stringify(amount)}`);
  }
  const [, sign, whole = "", fraction = ""] = match;
  if (fraction.length > MINOR_DIGITS) {
    throw new AmountError(`more than ${MINOR_DIGITS} decimal places: ${JSON.stringify(amount)}`);
  }
  const minor = BigInt(whole) * SCALE + BigInt(fraction.padEnd(MINOR_DIGITS, "0"));
  return sign === "-" ? -minor : minor;
}

/** 100050n -> "1000.50", always with two places (-5n -> "-0.05"). */
export function fromMinorUnits(minor: bigint): Amount {
  if (typeof minor !== "bigint") {
    throw new AmountError(`minor units are a bigint, never ${typeof minor}: ${String(minor)}`);
  }
  const sign = minor < 0n ? "-" : "";
  const magnitude = minor < 0n ? -minor : minor;
  const fraction = (magnitude % SCALE).toString().padStart(MINOR_DIGITS, "0");
  return `${sign}${magnitude / SCALE}.${fraction}`;
}

/**
 * Minor units as a `number`, for gateway SDKs that take one (Razorpay Checkout's `amount` in
 * paise, Stripe's `amount` in cents). Exact, or a RangeError beyond Number.MAX_SAFE_INTEGER.
 */
export function toMinorUnitsNumber(amount: Amount): number {
  const minor = toMinorUnits(amount);
  const value = Number(minor);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${amount} is too large for an exact number of minor units`);
  }
  return value;
}

/** The amount in the API's canonical form ("7.5" -> "7.50", "007" -> "7.00"); validates it too. */
export function normalizeAmount(amount: Amount): Amount {
  return fromMinorUnits(toMinorUnits(amount));
}

/** Exact sum of decimal amounts: addAmounts("0.1", "0.2") === "0.30". */
export function addAmounts(...amounts: Amount[]): Amount {
  return fromMinorUnits(amounts.reduce((total, amount) => total + toMinorUnits(amount), 0n));
}

/** Negative, zero or positive as `a` is less than, equal to or greater than `b`. */
export function compareAmounts(a: Amount, b: Amount): -1 | 0 | 1 {
  const difference = toMinorUnits(a) - toMinorUnits(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
