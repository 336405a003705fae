"""Rounding once, per line, to the currency's ISO 4217 minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterd.core.errors import ValidationError
from meterd.domain.catalog import UnitPrice, Usage, minor_units, price, round_line

D = Decimal


@pytest.mark.parametrize(
    ("currency", "places"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("HUF", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("TND", 3),
        ("CLF", 4),
        # A code the table does not know rounds to cents.
        ("XYZ", 2),
    ],
)
def test_minor_units(currency: str, places: int) -> None:
    assert minor_units(currency) == places


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("1.235", "USD", "1.24"),
        ("1.234999", "USD", "1.23"),
        ("-1.235", "USD", "-1.24"),
        ("0.005", "EUR", "0.01"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("1.2345", "KWD", "1.235"),
        ("7", "USD", "7.00"),
    ],
)
def test_round_line_is_half_away_from_zero(amount: str, currency: str, rounded: str) -> None:
    result = round_line(D(amount), currency)
    assert result == D(rounded)
    assert str(result) == rounded


def test_round_line_keeps_amounts_wider_than_the_default_context() -> None:
    # 30 integer digits: more than Python's default 28-digit context holds.
    amount = D("123456789012345678901234567890.125")
    assert round_line(amount, "USD") == D("123456789012345678901234567890.13")


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "", "1SD"])
def test_round_line_rejects_what_is_not_a_currency_code(currency: str) -> None:
    with pytest.raises(ValidationError) as err:
        round_line(D(1), currency)
    assert err.value.issues[0].field == "currency"


def test_pricing_does_not_round_but_the_line_does() -> None:
    result = price(UnitPrice(amount=D("0.0015")), Usage(quantity=D(3)))
    assert result.amount == D("0.0045")
    assert round_line(result.amount, "USD") == D("0.00")
    assert round_line(result.amount, "KWD") == D("0.005")
