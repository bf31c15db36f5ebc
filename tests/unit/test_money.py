from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.core.errors import InvalidAmount
from payments.core.money import (
    MAX_AMOUNT,
    format_amount,
    format_minor,
    from_minor,
    parse_amount,
    parse_currency,
    to_minor,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500", "1500.00"),
        ("1500.5", "1500.50"),
        ("0.01", "0.01"),
        (Decimal("99.99"), "99.99"),
        (7, "7.00"),
        (" 12.30 ", "12.30"),
        ("1000000000.00", "1000000000.00"),
    ],
)
def test_valid_amounts_are_normalised_to_two_decimals(raw: object, expected: str) -> None:
    assert format_amount(parse_amount(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        "0",
        "0.00",
        "-0.01",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "sNaN",
        "1.001",
        "0.005",
        "abc",
        "",
        "1e400",
        "1,000",
        "1000000000.01",
        True,
        None,
        1.5,
        [],
        {},
    ],
)
def test_bad_amounts_are_pay_001(raw: object) -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_amount(raw)
    assert refused.value.code == "PAY_001"


def test_error_names_the_field() -> None:
    with pytest.raises(InvalidAmount) as refused:
        parse_amount("-5", field="amount")
    assert refused.value.to_dict() == {
        "success": False,
        "error": {
            "code": "PAY_001",
            "message": "amount must be greater than zero",
            "details": {"field": "amount"},
        },
    }


@given(st.integers(min_value=1, max_value=int(MAX_AMOUNT * 100)))
def test_minor_units_round_trip_exactly(minor: int) -> None:
    amount = from_minor(minor)
    assert to_minor(amount) == minor
    assert to_minor(parse_amount(format_minor(minor))) == minor


@given(st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2, allow_nan=False))
def test_any_two_decimal_amount_survives_the_wire_format(amount: Decimal) -> None:
    assert parse_amount(format_amount(amount)) == amount


def test_currency_codes() -> None:
    assert parse_currency("inr") == "INR"
    with pytest.raises(InvalidAmount):
        parse_currency("BTC")


def test_card_numbers_are_found_alone_grouped_or_glued_to_letters() -> None:
    from payments.guards.card_data import card_numbers

    assert card_numbers("pay with 4111 1111 1111 1111 please") == ["4111111111111111"]
    assert card_numbers('{"token": "4111-1111-1111-1111"}') == ["4111111111111111"]
    assert card_numbers("sig a4111111111111111f") == ["4111111111111111"]
    assert card_numbers("4111111111111112") == []  # fails Luhn
    assert card_numbers("order 12345 on 2026-11-26, ref txn_01M8CP65XVW4P6PZRT920PX7WY") == []
    assert card_numbers("4111 1111 1111 1111 999 exp 12/29") == ["4111111111111111"]


def test_digits_that_are_not_decimal_are_not_read_as_card_digits() -> None:
    """A "²" is a digit to str.isdigit() but int() refuses it: the screen crashed on it (fuzzing)."""
    from payments.guards.card_data import card_numbers

    assert card_numbers("\u00b2 not a digit") == []
    assert card_numbers("\u00b24111 1111 1111 1111") == ["4111111111111111"]
    arabic_indic = "\u0664" + "\u0661" * 15  # 4111111111111111 in Arabic-Indic digits, still a card
    assert card_numbers(arabic_indic) == [arabic_indic]
