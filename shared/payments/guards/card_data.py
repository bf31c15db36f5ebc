"""Card data must never enter the system: find it before anything stores or logs it.

PCI DSS scope stays with the gateways only if full card numbers (PANs) and CVVs never reach us.
:func:`card_numbers` is the one detector, used by the request filter (:func:`refuse_card_data`)
and by the test suite's scans of every table and log: it finds any Luhn-valid run of 13-19
digits once separators are taken out - whitespace of any kind (tabs, double or non-breaking
spaces), dashes, dots, slashes and underscores, up to three in a row - whether the run stands
alone or is glued to letters (``card4111111111111111``, ``pan:4111.1111.1111.1111x``).

The price is false positives: about one in ten 13-19 digit numbers passes Luhn, so free text
with such a number is refused too (documented). Only values that are verified cryptographic
material and never stored (checkout signatures, hex HMACs in which digit runs are common) are
not searched; a field named like a card number or security code is refused whatever it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from payments.guards.errors import CardDataRefused

_TOKENS = re.compile(r"\d+|\D+")
_SEPARATORS = re.compile(r"[\s./_\-\u2010-\u2015]{1,3}")
MIN_DIGITS, MAX_DIGITS = 13, 19
_FORBIDDEN_FIELDS = frozenset(
    {"card_number", "cardnumber", "number", "pan", "cvv", "cvv2", "cvc", "cvc2", "security_code", "cid"}
)
#: Request fields holding HMAC signatures: checked by the gateway adapters, never stored or logged.
OPAQUE_FIELDS = frozenset({"razorpay_signature", "mock_signature", "signature"})


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
    """The Luhn-valid 13-19 digit numbers in ``text``, separators removed (digits only)."""
    found: list[str] = []
    groups: list[str] = []
    for token in _TOKENS.findall(text):
        # isdecimal() is what \d matches; isdigit() is also true of "²" and other digits that
        # are not decimal (int() refuses them: a 500 on a body holding one, found by fuzzing).
        if token[0].isdecimal():
            groups.append(token)
        elif not _SEPARATORS.fullmatch(token):
            _collect(groups, found)
            groups = []
    _collect(groups, found)
    return found


def _collect(groups: list[str], found: list[str]) -> None:
    """Every run of whole digit groups with 13-19 digits that passes Luhn."""
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                found.append(digits)


def contains_card_number(text: str) -> bool:
    return bool(card_numbers(text))


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if contains_card_number(str(key)):
                raise CardDataRefused(field=f"{path}.<key>" if path else "<key>")
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
        if field in OPAQUE_FIELDS or isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            continue
        if contains_card_number(str(value)):
            raise CardDataRefused(field=path)
