"""Rounding a priced amount once, to the currency's ISO 4217 minor unit."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

from meterd.core.errors import ValidationError
from meterd.core.money import MONEY_CONTEXT, round_half_away

_CODE = re.compile(r"[A-Z]{3}")

# ISO 4217 currencies whose minor unit is not two digits. Every other code,
# including ones this table does not know, rounds to cents.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
            "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip

DEFAULT_MINOR_UNITS = 2


def minor_units(currency: str) -> int:
    """Decimal places of ``currency`` (an ISO 4217 code such as ``"USD"``)."""
    if not _CODE.fullmatch(currency):
        raise ValidationError.single(
            "currency", "invalid_currency", "currency must be a three-letter ISO 4217 code"
        )
    return _MINOR_UNITS.get(currency, DEFAULT_MINOR_UNITS)


def round_line(amount: Decimal, currency: str) -> Decimal:
    """Round half away from zero to the currency's minor unit (USD 1.235 -> 1.24)."""
    places = minor_units(currency)
    # The ambient context may carry fewer digits than a stored amount.
    with decimal.localcontext(MONEY_CONTEXT):
        return round_half_away(amount, places)
