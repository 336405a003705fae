"""Pure pricing: price models, ``price(model, usage)``, wire reading and writing.

Nothing here rounds except ``round_line``, which billing calls once per line.
"""

from __future__ import annotations

from meterd.domain.catalog.pricing._currency import minor_units, round_line
from meterd.domain.catalog.pricing._discounts import Discounts
from meterd.domain.catalog.pricing._engine import package_count, price
from meterd.domain.catalog.pricing._lines import LineKind, PricedLine, SubLine, Usage
from meterd.domain.catalog.pricing._models import (
    DynamicPrice,
    FlatPrice,
    GraduatedPercentagePrice,
    PackagePrice,
    PaymentTerm,
    PercentagePrice,
    PercentageTier,
    Price,
    PriceTier,
    TieredPrice,
    TierMode,
    UnitPrice,
)
from meterd.domain.catalog.pricing._wire_read import (
    parse_discounts,
    parse_price,
    validate_discounts,
    validate_price,
)
from meterd.domain.catalog.pricing._wire_write import discounts_to_wire, to_wire

__all__ = [
    "Discounts",
    "DynamicPrice",
    "FlatPrice",
    "GraduatedPercentagePrice",
    "LineKind",
    "PackagePrice",
    "PaymentTerm",
    "PercentagePrice",
    "PercentageTier",
    "Price",
    "PriceTier",
    "PricedLine",
    "SubLine",
    "TierMode",
    "TieredPrice",
    "UnitPrice",
    "Usage",
    "discounts_to_wire",
    "minor_units",
    "package_count",
    "parse_discounts",
    "parse_price",
    "price",
    "round_line",
    "to_wire",
    "validate_discounts",
    "validate_price",
]
