"""Decimal parsing and rendering: exact, no floats, no exponents on the wire."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.core.money import format_decimal, parse_decimal, round_half_away

# Values the stores can hold: at most 38 significant digits (DECIMAL(38, s)),
# scaled anywhere from tiny fractions to very large integers.
coefficients = st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1)
exponents = st.integers(min_value=-40, max_value=40)
decimals = st.builds(lambda c, e: Decimal(c).scaleb(e), coefficients, exponents)


@settings(max_examples=500, deadline=None)
@given(value=decimals)
def test_format_then_parse_round_trips(value: Decimal) -> None:
    text = format_decimal(value)
    assert parse_decimal(text) == value
    # Plain positional notation, as JSON numbers and CSV cells expect.
    assert "e" not in text.lower()
    if "." in text:
        assert not text.endswith(("0", "."))
    assert text != "-0"


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(
        allow_nan=False, allow_infinity=False, places=6, max_value=10**20, min_value=-(10**20)
    )
)
def test_parse_of_the_exact_text_is_the_value(value: Decimal) -> None:
    assert parse_decimal(str(value)) == value
    assert parse_decimal(format(value, "f")) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("100.000"), "100"),
        (Decimal("0.000"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("-0.0500"), "-0.05"),
        (Decimal("1E-12"), "0.000000000001"),
        (
            Decimal("123456789012345678901234567890.12345678"),
            "123456789012345678901234567890.12345678",
        ),
    ],
)
def test_format_examples(value: Decimal, text: str) -> None:
    assert format_decimal(value) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (5, Decimal(5)),
        (10**30, Decimal(10**30)),
        ("12.50", Decimal("12.50")),
        (" 7 ", Decimal(7)),
        ("-3", Decimal(-3)),
        ("1e3", Decimal(1000)),
        # A JSON float becomes the decimal its shortest repr shows, not the
        # binary approximation (0.1 is not 0.1000000000000000055...).
        (0.1, Decimal("0.1")),
        (1.5e-7, Decimal("1.5E-7")),
        (Decimal("2.5"), Decimal("2.5")),
    ],
)
def test_parse_numbers(raw: object, expected: Decimal) -> None:
    got = parse_decimal(raw)
    assert got == expected
    assert isinstance(got, Decimal)


@pytest.mark.parametrize(
    "raw",
    [
        True,
        False,
        None,
        "",
        "abc",
        "12abc",
        "NaN",
        "Infinity",
        "-inf",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        [1],
        {"a": 1},
    ],
)
def test_parse_non_numbers(raw: object) -> None:
    assert parse_decimal(raw) is None


def test_round_half_away_from_zero() -> None:
    assert round_half_away(Decimal("2.5"), 0) == Decimal(3)
    assert round_half_away(Decimal("-2.5"), 0) == Decimal(-3)
    assert round_half_away(Decimal("1.005"), 2) == Decimal("1.01")
    assert round_half_away(Decimal("1.004999"), 2) == Decimal("1.00")
