import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import type { DomainEvent, DomainEventType } from "../src/index.js";

const schemas = new URL("../../../../docs/events/", import.meta.url);

/** What a backend's handler does with a body it received: narrow by type, amounts stay strings. */
function describe(event: DomainEvent): string {
  switch (event.type) {
    case "deposit.completed":
      return `credit ${event.data.amount} ${event.data.currency} to ${event.user_id}`;
    case "dispute.closed":
      return `dispute ${event.data.dispute_id} ${event.data.outcome}`;
    case "kyc.changed":
      return `kyc ${event.data.from_level ?? "claim"} -> ${event.data.to_level}`;
    default:
      return event.type;
  }
}

test("every event type of docs/events/ is a DomainEventType, and the union narrows by type", () => {
  const types: DomainEventType[] = [
    "deposit.completed",
    "deposit.failed",
    "deposit.returned",
    "dispute.closed",
    "dispute.opened",
    "kyc.changed",
    "refund.completed",
    "refund.failed",
    "withdrawal.completed",
    "withdrawal.failed",
    "withdrawal.reversed",
  ];
  for (const type of types) {
    const schema = JSON.parse(readFileSync(new URL(`${type}.json`, schemas), "utf8")) as { title: string };
    assert.equal(schema.title, type);
  }
  // @ts-expect-error not an event type
  const wrong: DomainEventType = "deposit.done";
  assert.ok(wrong);
  const event = {
    id: "evt_txn_1_completed_mfrgs4yhauze",
    type: "deposit.completed",
    version: "1",
    occurred_at: "2026-03-02T09:01:30.512034Z",
    user_id: "user_1",
    data: {
      transaction_id: "txn_1",
      type: "DEPOSIT",
      status: "COMPLETED",
      amount: "1000.50",
      currency: "INR",
      reference_id: null,
      gateway: "mock",
      failure_reason: null,
      created_at: "2026-03-02T09:00:00Z",
    },
  } satisfies DomainEvent;
  assert.equal(describe(event), "credit 1000.50 INR to user_1");
});
