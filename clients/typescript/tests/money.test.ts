import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  addAmounts,
  AmountError,
  compareAmounts,
  fromMinorUnits,
  normalizeAmount,
  toMinorUnits,
  toMinorUnitsNumber,
} from "../src/money.js";

describe("toMinorUnits", () => {
  test("reads decimal strings with up to two places exactly", () => {
    assert.equal(toMinorUnits("1000.50"), 100050n);
    assert.equal(toMinorUnits("1000.5"), 100050n);
    assert.equal(toMinorUnits("1000"), 100000n);
    assert.equal(toMinorUnits("0.01"), 1n);
    assert.equal(toMinorUnits("0"), 0n);
    assert.equal(toMinorUnits("007.10"), 710n);
    // the float trap: "1000.10" * 100 is 100009.99999999999
    assert.equal(toMinorUnits("1000.10"), 100010n);
  });

  test("keeps the sign of negative amounts", () => {
    assert.equal(toMinorUnits("-0.05"), -5n);
    assert.equal(toMinorUnits("-12.30"), -1230n);
    assert.equal(fromMinorUnits(toMinorUnits("-0.05")), "-0.05");
  });

  test("holds amounts far beyond Number.MAX_SAFE_INTEGER", () => {
    const huge = "123456789012345678901234567890.99";
    assert.equal(toMinorUnits(huge), 12345678901234567890123456789099n);
    assert.equal(fromMinorUnits(toMinorUnits(huge)), huge);
  });

  test("refuses more than two decimal places instead of rounding", () => {
    assert.throws(() => toMinorUnits("10.001"), { name: "AmountError", message: /more than 2 decimal places/ });
    assert.throws(() => toMinorUnits("0.005"), AmountError);
  });

  for (const malformed of [
    "1e3",
    "1E3",
    "",
    " 1.00",
    "1.00 ",
    "+1",
    ".5",
    "5.",
    "1,000.00",
    "0x10",
    "NaN",
    "Infinity",
    "-",
    "1.2.3",
    "١٢",
  ]) {
    test(`refuses ${JSON.stringify(malformed)}`, () => {
      assert.throws(() => toMinorUnits(malformed), { name: "AmountError", message: /not a decimal amount/ });
    });
  }

  test("refuses numbers and bigints at run time (for JavaScript callers)", () => {
    assert.throws(() => toMinorUnits(0.1 as unknown as string), { message: /never number/ });
    assert.throws(() => toMinorUnits(10n as unknown as string), { message: /never bigint/ });
    assert.throws(() => fromMinorUnits(5 as unknown as bigint), { message: /never number/ });
  });
});

describe("fromMinorUnits", () => {
  test("always writes two places", () => {
    assert.equal(fromMinorUnits(100050n), "1000.50");
    assert.equal(fromMinorUnits(5n), "0.05");
    assert.equal(fromMinorUnits(0n), "0.00");
    assert.equal(fromMinorUnits(-100n), "-1.00");
  });
});

describe("arithmetic", () => {
  test('"0.1" + "0.2" is "0.30", not 0.30000000000000004', () => {
    assert.equal(0.1 + 0.2 === 0.3, false);
    assert.equal(addAmounts("0.1", "0.2"), "0.30");
    assert.equal(addAmounts("1000.10", "-0.10", "0.01"), "1000.01");
    assert.equal(addAmounts(), "0.00");
  });

  test("compares exactly", () => {
    assert.equal(compareAmounts("0.30", addAmounts("0.1", "0.2")), 0);
    assert.equal(compareAmounts("9.99", "10"), -1);
    assert.equal(compareAmounts("100000000000000000000.01", "100000000000000000000.00"), 1);
  });

  test("normalizes to the API's form", () => {
    assert.equal(normalizeAmount("7.5"), "7.50");
    assert.equal(normalizeAmount("007"), "7.00");
    assert.throws(() => normalizeAmount("1e3"), AmountError);
  });

  test("gives exact numbers of minor units for gateway SDKs, or refuses", () => {
    assert.equal(toMinorUnitsNumber("1000.10"), 100010);
    assert.equal(toMinorUnitsNumber("90071992547409.91"), Number.MAX_SAFE_INTEGER);
    assert.throws(() => toMinorUnitsNumber("90071992547409.92"), RangeError);
  });
});
