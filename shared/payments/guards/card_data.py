"""Card data must never enter the system: find it in a request before anything stores or logs it.

PCI DSS scope stays with the gateways only if full card numbers (PANs) and CVVs never reach us.
Any request carrying a Luhn-valid 13-19 digit number (spaces and dashes allowed), or a field
named like a card number or security code, is refused; the error never echoes the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from payments.guards.errors import CardDataRefused

#: 13-19 digits, optionally grouped by spaces or dashes, standing alone: not part of a longer
#: alphanumeric token (a hex signature or a gateway id can contain digit runs that pass Luhn).
_DIGIT_RUNS = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_FORBIDDEN_FIELDS = frozenset(
    {"card_number", "cardnumber", "number", "pan", "cvv", "cvv2", "cvc", "cvc2", "security_code", "cid"}
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """The Luhn-valid card numbers standing in ``text`` (digits only)."""
    found = []
    for match in _DIGIT_RUNS.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(digits)
    return found


def contains_card_number(text: str) -> bool:
    return bool(card_numbers(text))


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def refuse_card_data(payload: Any) -> None:
    """Raise :class:`CardDataRefused` naming the field (never the value) if card data is present."""
    for path, value in _walk(payload):
        field = path.rsplit(".", 1)[-1].split("[", 1)[0].lower()
        if field in _FORBIDDEN_FIELDS and value not in (None, ""):
            raise CardDataRefused(field=path)
        if isinstance(value, str | int) and not isinstance(value, bool) and contains_card_number(str(value)):
            raise CardDataRefused(field=path)
