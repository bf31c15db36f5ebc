"""The domain events' JSON Schemas, generated from the code: ``make openapi`` writes one file per
event type to ``docs/events/``; ``tests/unit/test_domain_events.py`` fails when a committed one
differs, and validates every event the tests produce against its schema.

The fields come from the ``TypedDict`` envelopes of ``payments.events.domain``; what the code's
mapping table says per type is added: the ``type`` itself, the transaction types and statuses
it announces, and the fields it always carries (a dispute's id and shortfall, its outcome when
closed, a refund's ``wallet_debited``). Every object is closed (``additionalProperties: false``):
a schema describes exactly what its version emits, so a field added without a schema fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FOLDER = REPO_ROOT / "docs" / "events"
#: A decimal string with the currency's two minor digits, as every amount of the API.
AMOUNT_PATTERN = "^[0-9]+\\.[0-9]{2}$"
#: Optional fields of ``TransactionData`` that only some event types carry (then always).
_ONLY_ON = {"wallet_debited": None, "dispute_id": None, "shortfall": None, "outcome": None}
_ALWAYS: dict[str, tuple[str, ...]] = {
    "dispute.opened": ("parent_transaction_id", "dispute_id", "shortfall"),
    "dispute.closed": ("parent_transaction_id", "dispute_id", "shortfall", "outcome"),
    "refund.completed": ("wallet_debited",),
    "refund.failed": ("wallet_debited",),
}


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, one per event type."""
    from pydantic import TypeAdapter

    from payments.events import domain

    found = {}
    for event_type in domain.EVENT_TYPES:
        model = domain.KycEvent if event_type == domain.KYC_CHANGED else domain.TransactionEvent
        schema = TypeAdapter(model).json_schema()
        _close(schema)
        data = schema["$defs"]["KycData" if model is domain.KycEvent else "TransactionData"]
        schema["properties"]["type"] = {"const": event_type, "title": "Type"}
        schema["properties"]["version"] = {"const": domain.SCHEMA_VERSION, "title": "Version"}
        if model is domain.TransactionEvent:
            data["properties"]["status"] = {"enum": list(domain.statuses_of(event_type)), "title": "Status"}
            data["properties"]["type"] = {"enum": list(domain.transaction_types_of(event_type)), "title": "Type"}
            data["required"] = sorted({*data["required"], *_ALWAYS.get(event_type, ())})
            for name in _ONLY_ON.keys() - set(_ALWAYS.get(event_type, ())):
                del data["properties"][name]  # carried by other event types only
            if event_type == "dispute.closed":
                data["properties"]["outcome"] = {"enum": ["LOST", "WON"], "title": "Outcome"}
            for name in ("amount", "shortfall"):
                if name in data["properties"]:
                    data["properties"][name]["pattern"] = AMOUNT_PATTERN
            data["properties"]["created_at"]["format"] = "date-time"
        schema["properties"]["occurred_at"]["format"] = "date-time"
        found[f"{event_type}.json"] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://github.com/serverless-wallet/events/{event_type}.json",
            **{key: value for key, value in schema.items() if key not in ("title", "description")},
            "title": event_type,
            "description": f"The detail of a {event_type} event (EventBridge source {domain.SOURCE!r}, "
            f"detail-type {event_type!r}); the same id on every delivery of it: dedupe by id.",
        }
    return found


def _close(schema: Any) -> None:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            _close(value)
    elif isinstance(schema, list):
        for value in schema:
            _close(value)


def render() -> dict[str, str]:
    return {name: json.dumps(schema, indent=2) + "\n" for name, schema in schemas().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/events/ is not what the code gives")
    args = parser.parse_args(argv)
    if str(REPO_ROOT / "shared") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "shared"))
    rendered = render()
    committed = {path.name: path.read_text() for path in FOLDER.glob("*.json")}
    if args.check:
        if committed != rendered:
            print("docs/events/ differs from the code: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name in committed.keys() - rendered.keys():
        (FOLDER / name).unlink()
    for name, text in rendered.items():
        (FOLDER / name).write_text(text)
    print(f"wrote {len(rendered)} schemas to {FOLDER.relative_to(REPO_ROOT)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
