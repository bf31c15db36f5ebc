/**
 * The local stack the e2e tests run against: tests/e2e/test_typescript_client.py starts it and
 * sets BASE_URL and TOKENS (a JSON object: one JWT per name below, each for a fresh user, so tests
 * in parallel processes never share a wallet or a rate limit). Without them those tests skip.
 */
export const BASE_URL = process.env.BASE_URL ?? "";

/** `{ skip }` for node:test when no stack was given. */
export const needsStack = { skip: BASE_URL === "" ? "no local stack: set BASE_URL and TOKENS" : false };

const tokens: Record<string, string> = JSON.parse(process.env.TOKENS ?? "{}");

/** The token of the user named `name` (the names are USERS in tests/e2e/test_typescript_client.py). */
export function tokenOf(name: string): string {
  const token = tokens[name];
  if (token === undefined) {
    throw new Error(`no token for "${name}": add it to USERS in tests/e2e/test_typescript_client.py`);
  }
  return token;
}
