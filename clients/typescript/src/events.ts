/**
 * The domain events the stack POSTs to your backend (`EventsEndpointUrl`; docs/events/), typed
 * from the `webhooks` of docs/openapi.json. Delivery is at least once: dedupe by `id`.
 *
 * ```ts
 * const event = JSON.parse(body) as DomainEvent;
 * if (event.type === "deposit.completed") creditOrder(event.user_id, event.data.amount); // a string
 * ```
 */
import type { webhooks } from "./schema.js";

type Body<Name extends keyof webhooks> = NonNullable<
  webhooks[Name]["post"]
>["requestBody"]["content"]["application/json"];

/** Any domain event; narrow it by `type`. */
export type DomainEvent = { [Name in keyof webhooks]: Body<Name> }[keyof webhooks];
/** The event types, e.g. "deposit.completed". */
export type DomainEventType = DomainEvent["type"];
