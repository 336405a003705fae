"""Price models: what a rate card charges, as immutable Decimal values.

The first five follow OpenMeter's ``PriceType`` (flat, unit, tiered, dynamic,
package); the last two are Lago's percentage and graduated-percentage charge
models. Every model except the flat price carries optional spend commitments
(``minimum_amount`` / ``maximum_amount``) for the billing period.

Construction validates, so a model that exists can be priced. Each model's
static ``check`` lists its rules once; the wire reader calls the same ``check``
on half-parsed input so that a request learns about every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

from meterd.core.errors import IssueCollector
from meterd.domain.catalog.pricing import _rules as rules
from meterd.domain.catalog.pricing._rules import Add


class PaymentTerm(StrEnum):
    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


class TierMode(StrEnum):
    # One tier, chosen by the total quantity, prices every unit.
    VOLUME = "volume"
    # Each tier prices the slice of the quantity that falls inside it.
    GRADUATED = "graduated"


def _validated(check: Callable[[Add], None]) -> None:
    issues = IssueCollector()
    check(issues.add)
    issues.raise_if_any()


@dataclass(frozen=True, slots=True, kw_only=True)
class FlatPrice:
    """A fixed amount per billing period, whatever the usage."""

    amount: Decimal
    payment_term: PaymentTerm = PaymentTerm.IN_ADVANCE

    def __post_init__(self) -> None:
        _validated(lambda add: self.check(add, "", amount=self.amount))

    @staticmethod
    def check(add: Add, where: str, *, amount: object) -> None:
        rules.non_negative(add, rules.at(where, "amount"), amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitPrice:
    """``amount`` per unit of metered quantity."""

    amount: Decimal
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        _validated(
            lambda add: self.check(
                add,
                "",
                amount=self.amount,
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add, where: str, *, amount: object, minimum_amount: object, maximum_amount: object
    ) -> None:
        rules.non_negative(add, rules.at(where, "amount"), amount)
        rules.commitments(add, where, minimum_amount, maximum_amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTier:
    """One tier: quantities up to and including ``up_to`` (None: no upper bound).

    ``unit_amount`` is charged per unit in the tier and ``flat_amount`` once
    when the tier is reached; a tier has at least one of them.
    """

    up_to: Decimal | None
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TieredPrice:
    mode: TierMode
    tiers: tuple[PriceTier, ...]
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        # A list would leave the frozen value unhashable and mutable from outside.
        object.__setattr__(self, "tiers", tuple(self.tiers))
        _validated(
            lambda add: self.check(
                add,
                "",
                tiers=[(t.up_to, t.unit_amount, t.flat_amount) for t in self.tiers],
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add,
        where: str,
        *,
        tiers: Sequence[tuple[object, object, object]],
        minimum_amount: object,
        maximum_amount: object,
    ) -> None:
        """``tiers`` holds ``(up_to, unit_amount, flat_amount)`` per tier."""
        rules.tier_bounds(add, where, [up_to for up_to, _, _ in tiers])
        for i, (_, unit_amount, flat_amount) in enumerate(tiers):
            rules.price_tier(add, rules.item(where, "tiers", i), unit_amount, flat_amount)
        rules.commitments(add, where, minimum_amount, maximum_amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class PackagePrice:
    """``amount`` per started package of ``quantity_per_package`` units."""

    amount: Decimal
    quantity_per_package: Decimal
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        _validated(
            lambda add: self.check(
                add,
                "",
                amount=self.amount,
                quantity_per_package=self.quantity_per_package,
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add,
        where: str,
        *,
        amount: object,
        quantity_per_package: object,
        minimum_amount: object,
        maximum_amount: object,
    ) -> None:
        rules.non_negative(add, rules.at(where, "amount"), amount)
        rules.positive(add, rules.at(where, "quantityPerPackage"), quantity_per_package)
        rules.commitments(add, where, minimum_amount, maximum_amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicPrice:
    """The metered value is itself an amount (a cost), multiplied by ``multiplier``."""

    multiplier: Decimal = Decimal(1)
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        _validated(
            lambda add: self.check(
                add,
                "",
                multiplier=self.multiplier,
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add, where: str, *, multiplier: object, minimum_amount: object, maximum_amount: object
    ) -> None:
        rules.non_negative(add, rules.at(where, "multiplier"), multiplier)
        rules.commitments(add, where, minimum_amount, maximum_amount)


@dataclass(frozen=True, slots=True, kw_only=True)
class PercentagePrice:
    """Lago's percentage charge: ``rate`` percent of the metered amount.

    - ``fixed_amount`` is added per charged event (transaction).
    - ``free_units_per_events`` makes the first N events free, and
      ``free_units_per_total_aggregation`` the first X of the metered amount;
      with both, the free allowance ends when either runs out. Zero means no
      allowance of that kind, as in Lago.
    - ``per_transaction_min`` / ``per_transaction_max`` clamp each charged
      event's fee (rate part plus fixed part).
    """

    rate: Decimal
    fixed_amount: Decimal | None = None
    free_units_per_events: int | None = None
    free_units_per_total_aggregation: Decimal | None = None
    per_transaction_min: Decimal | None = None
    per_transaction_max: Decimal | None = None
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        _validated(
            lambda add: self.check(
                add,
                "",
                rate=self.rate,
                fixed_amount=self.fixed_amount,
                free_units_per_events=self.free_units_per_events,
                free_units_per_total_aggregation=self.free_units_per_total_aggregation,
                per_transaction_min=self.per_transaction_min,
                per_transaction_max=self.per_transaction_max,
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add,
        where: str,
        *,
        rate: object,
        fixed_amount: object,
        free_units_per_events: object,
        free_units_per_total_aggregation: object,
        per_transaction_min: object,
        per_transaction_max: object,
        minimum_amount: object,
        maximum_amount: object,
    ) -> None:
        rules.non_negative(add, rules.at(where, "rate"), rate)
        rules.non_negative(add, rules.at(where, "fixedAmount"), fixed_amount)
        rules.count(add, rules.at(where, "freeUnitsPerEvents"), free_units_per_events)
        rules.non_negative(
            add, rules.at(where, "freeUnitsPerTotalAggregation"), free_units_per_total_aggregation
        )
        rules.ordered_pair(
            add,
            where,
            ("perTransactionMin", per_transaction_min),
            ("perTransactionMax", per_transaction_max),
        )
        rules.commitments(add, where, minimum_amount, maximum_amount)

    @property
    def free_events(self) -> int | None:
        """The free-event allowance in effect (None when there is none)."""
        return self.free_units_per_events or None

    @property
    def free_amount(self) -> Decimal | None:
        """The free-amount allowance in effect (None when there is none)."""
        return self.free_units_per_total_aggregation or None

    @property
    def limits_transactions(self) -> bool:
        return self.per_transaction_min is not None or self.per_transaction_max is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PercentageTier:
    """Quantities up to and including ``up_to`` are charged ``rate`` percent."""

    up_to: Decimal | None
    rate: Decimal
    flat_amount: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class GraduatedPercentagePrice:
    """Lago's graduated percentage: each tier's slice at that tier's rate.

    Each reached tier also adds its ``flat_amount``, except when there is no
    usage at all (Lago charges nothing then).
    """

    tiers: tuple[PercentageTier, ...]
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiers", tuple(self.tiers))
        _validated(
            lambda add: self.check(
                add,
                "",
                tiers=[(t.up_to, t.rate, t.flat_amount) for t in self.tiers],
                minimum_amount=self.minimum_amount,
                maximum_amount=self.maximum_amount,
            )
        )

    @staticmethod
    def check(
        add: Add,
        where: str,
        *,
        tiers: Sequence[tuple[object, object, object]],
        minimum_amount: object,
        maximum_amount: object,
    ) -> None:
        """``tiers`` holds ``(up_to, rate, flat_amount)`` per tier."""
        rules.tier_bounds(add, where, [up_to for up_to, _, _ in tiers])
        for i, (_, rate, flat_amount) in enumerate(tiers):
            rules.percentage_tier(add, rules.item(where, "tiers", i), rate, flat_amount)
        rules.commitments(add, where, minimum_amount, maximum_amount)


Price: TypeAlias = (
    FlatPrice
    | UnitPrice
    | TieredPrice
    | PackagePrice
    | DynamicPrice
    | PercentagePrice
    | GraduatedPercentagePrice
)
"""Any price model ``price()`` accepts."""
