"""Money: ``Decimal`` in code, integer minor units (paise, cents) in DynamoDB, ``"1500.00"`` on the wire.

``float`` never touches an amount: JSON is parsed with ``parse_float=Decimal`` and floats handed to
:func:`parse_amount` are refused, because ``0.1 + 0.2`` is not a price.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from payments.core.errors import InvalidAmount

#: Every supported currency has two decimal places (INR paise, USD/EUR/GBP cents).
MINOR_UNITS = 2
_QUANTUM = Decimal(1).scaleb(-MINOR_UNITS)
_FACTOR = 10**MINOR_UNITS
#: Far above any KYC tier, low enough that minor units stay exact in DynamoDB's 38-digit numbers.
MAX_AMOUNT = Decimal("1000000000.00")
SUPPORTED_CURRENCIES = frozenset({"INR", "USD", "EUR", "GBP"})


def parse_amount(value: object, *, field: str = "amount") -> Decimal:
    """Validate a client-supplied amount and return it as a two-decimal ``Decimal``.

    Accepts ``Decimal``, ``int`` and numeric strings. Refuses (PAY_001) anything that is not a
    finite, positive number with at most two decimals and at most :data:`MAX_AMOUNT`.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmount(f"{field} must be a number", field=field)
    if isinstance(value, float):
        # A float has already lost the exact decimal the client meant; JSON bodies are parsed
        # with Decimal, so only programming errors get here.
        raise InvalidAmount(f"{field} must be a decimal string or integer, not a float", field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{field} is not a number", field=field) from None
    if not amount.is_finite():
        raise InvalidAmount(f"{field} must be finite", field=field)
    if amount <= 0:
        raise InvalidAmount(f"{field} must be greater than zero", field=field)
    if amount > MAX_AMOUNT:
        raise InvalidAmount(f"{field} exceeds the maximum of {format_amount(MAX_AMOUNT)}", field=field)
    if amount != amount.quantize(_QUANTUM):
        raise InvalidAmount(f"{field} has more than {MINOR_UNITS} decimal places", field=field)
    return amount.quantize(_QUANTUM)


def to_minor(amount: Decimal) -> int:
    """``Decimal("1500.25")`` -> ``150025``. The amount must already be validated."""
    minor = amount * _FACTOR
    if minor != minor.to_integral_value():
        raise InvalidAmount("amount has more than two decimal places")
    return int(minor)


def from_minor(minor: int | Decimal) -> Decimal:
    """``150025`` -> ``Decimal("1500.25")``."""
    return (Decimal(int(minor)) / _FACTOR).quantize(_QUANTUM)


def format_amount(amount: Decimal) -> str:
    """``Decimal("1500")`` -> ``"1500.00"``, the wire format of every amount."""
    return f"{amount.quantize(_QUANTUM):f}"


def format_minor(minor: int | Decimal) -> str:
    """Integer minor units straight to the wire format."""
    return format_amount(from_minor(minor))


def parse_currency(value: str) -> str:
    """Validate an ISO 4217 code this deployment can hold."""
    code = value.strip().upper()
    if code not in SUPPORTED_CURRENCIES:
        raise InvalidAmount(f"currency {value!r} is not supported", field="currency")
    return code
