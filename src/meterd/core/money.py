"""Decimal rules shared by every module that handles quantities or money.

Quantities and amounts are ``Decimal``; floats never enter. Arithmetic runs in
``MONEY_CONTEXT`` (38 digits, invalid operations and division by zero trap) and
every rounding is an explicit ``quantize`` with a named mode.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal

MONEY_CONTEXT = decimal.Context(
    prec=38,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def parse_decimal(value: object) -> Decimal | None:
    """Read a JSON scalar as a finite Decimal, or None when it is not numeric.

    Booleans are not numbers here even though Python says they are ints.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float | str):
        try:
            d = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(repr(value))
        except decimal.InvalidOperation:
            return None
        return d if d.is_finite() else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def round_half_away(amount: Decimal, places: int) -> Decimal:
    """Round once, half away from zero, to ``places`` decimals."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_decimal(value: Decimal) -> str:
    """Render without exponent and without trailing zeros (``1E+2`` -> ``100``)."""
    if value == 0:
        return "0"
    return format(value.normalize(MONEY_CONTEXT), "f")
