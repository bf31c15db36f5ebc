/** The examples run against the local stack, and every TypeScript snippet of the READMEs is a
 * verbatim piece of an example, so what the READMEs show is what these tests run. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { BASE_URL, needsStack, tokenOf } from "./stack.js";

const PACKAGE = fileURLToPath(new URL("../../", import.meta.url)); // dist/tests/ -> the package
const run = promisify(execFile);

async function runExample(name: string, token: string): Promise<string> {
  const { stdout } = await run(process.execPath, [`${PACKAGE}dist/example/${name}.js`], {
    env: { ...process.env, BASE_URL, TOKEN: token },
    timeout: 60_000,
  });
  return stdout;
}

describe("examples against the local stack", needsStack, () => {
  test("example/deposit.ts: a Mock deposit initiated, paid, confirmed, and the balance read", async () => {
    assert.equal(await runExample("deposit", tokenOf("example")), "COMPLETED 1000.50\n");
  });

  test("example/errors.ts: the envelope's code and message", async () => {
    const stdout = await runExample("errors", tokenOf("example"));
    assert.equal(stdout, "PAY_003 404 Payment method not found { payment_method_id: 'pm_missing' }\n");
  });
});

/** The fenced TypeScript blocks of a Markdown file. */
function typescriptBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```(?:ts|tsx|typescript)\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
}

/** Compared line by line without indentation; the README imports the package by its name. */
const normalize = (code: string) =>
  code
    .replaceAll('"wallet-payments-client/react"', '"../src/usePayments.js"')
    .replaceAll('"wallet-payments-client"', '"../src/index.js"')
    .split("\n")
    .map((line) => line.trim())
    .join("\n")
    .trim();

describe("README snippets", () => {
  const examples = readdirSync(`${PACKAGE}example`).map((name) => ({
    name: `example/${name}`,
    code: normalize(readFileSync(`${PACKAGE}example/${name}`, "utf8")),
  }));

  for (const readme of ["README.md", "../../README.md"]) {
    test(`every TypeScript block of ${readme} is in an example`, () => {
      const blocks = typescriptBlocks(readFileSync(`${PACKAGE}${readme}`, "utf8"));
      for (const block of blocks) {
        const found = examples.find((example) => example.code.includes(normalize(block)));
        assert.ok(found, `this block of ${readme} is in no file of example/ (tests run those):\n${block}`);
      }
      if (readme === "README.md") {
        assert.ok(blocks.length >= 2, "the package README shows the examples");
      }
    });
  }
});
