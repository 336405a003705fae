"""Rate-card discounts (OpenMeter ``Discounts``): a percentage off, free usage.

A usage discount makes the first ``usage`` units free before the price
applies; a percentage discount takes ``percentage`` percent off what the price
came to, before spend commitments are enforced (OpenMeter's order).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.pricing import _rules as rules
from meterd.domain.catalog.pricing._models import FlatPrice, PercentagePrice, Price
from meterd.domain.catalog.pricing._rules import Add


@dataclass(frozen=True, slots=True, kw_only=True)
class Discounts:
    percentage: Decimal | None = None
    usage: Decimal | None = None

    def __post_init__(self) -> None:
        issues = IssueCollector()
        self.check(issues.add, "", percentage=self.percentage, usage=self.usage)
        issues.raise_if_any()

    @staticmethod
    def check(add: Add, where: str, *, percentage: object, usage: object) -> None:
        rules.percent(add, rules.at(rules.at(where, "percentage"), "percentage"), percentage)
        rules.non_negative(add, rules.at(rules.at(where, "usage"), "quantity"), usage)


NO_DISCOUNTS = Discounts()


def check_discounts_for(add: Add, where: str, price: Price, discounts: Discounts) -> None:
    """Discounts a price cannot take.

    A flat price has no usage to discount (OpenMeter rejects the pair too), and
    a percentage price has its own free units, which say which events are free.
    """
    if discounts.usage is None:
        return
    field = rules.at(where, "usage")
    if isinstance(price, FlatPrice):
        add(field, "not_supported", "a usage discount cannot apply to a flat price")
    elif isinstance(price, PercentagePrice):
        add(
            field,
            "not_supported",
            "a usage discount cannot apply to a percentage price; use its free units",
        )
