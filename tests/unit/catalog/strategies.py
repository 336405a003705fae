"""Hypothesis strategies for valid price models and usage."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from meterd.domain.catalog import (
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


def decimals(high: int = 10_000, places: int = 4) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=0, max_value=high, places=places, allow_nan=False, allow_infinity=False
    )


amounts = decimals(1_000, 4)
quantities = decimals(1_000_000, 6)


@st.composite
def tier_bounds(draw: st.DrawFn, max_tiers: int = 5) -> list[Decimal | None]:
    """Strictly ascending positive bounds, then the open-ended last tier."""
    finite = draw(
        st.lists(
            st.decimals(min_value="0.001", max_value=100_000, places=3, allow_nan=False),
            max_size=max_tiers - 1,
            unique=True,
        )
    )
    return [*sorted(finite), None]


@st.composite
def price_tiers(draw: st.DrawFn) -> tuple[PriceTier, ...]:
    tiers = []
    for bound in draw(tier_bounds()):
        unit, flat = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
        tiers.append(
            PriceTier(
                up_to=bound,
                unit_amount=draw(amounts) if unit else None,
                flat_amount=draw(amounts) if flat else None,
            )
        )
    return tuple(tiers)


@st.composite
def quantity_near(draw: st.DrawFn, bounds: list[Decimal | None]) -> Decimal:
    """A quantity that is often exactly on, or just beside, a tier boundary."""
    finite = [b for b in bounds if b is not None]
    if finite and draw(st.booleans()):
        edge = draw(st.sampled_from(finite))
        nudge = draw(st.sampled_from([Decimal(0), Decimal("0.001"), Decimal("-0.001")]))
        return max(edge + nudge, Decimal(0))
    return draw(quantities)


@st.composite
def commitments(draw: st.DrawFn) -> dict[str, Decimal | None]:
    low = draw(st.none() | amounts)
    high = draw(st.none() | amounts)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return {"minimum_amount": low, "maximum_amount": high}


def tiered(mode: TierMode | None = None) -> st.SearchStrategy[TieredPrice]:
    modes = st.just(mode) if mode is not None else st.sampled_from(TierMode)
    return st.builds(
        lambda m, t, c: TieredPrice(mode=m, tiers=t, **c), modes, price_tiers(), commitments()
    )


@st.composite
def percentage_prices(draw: st.DrawFn, *, limits: bool | None = None) -> PercentagePrice:
    least = most = None
    if limits is None:
        limits = draw(st.booleans())
    if limits:
        least = draw(st.none() | decimals(20, 2))
        most = draw(st.none() | decimals(20, 2))
        if least is None and most is None:
            most = draw(decimals(20, 2))
        if least is not None and most is not None and least > most:
            least, most = most, least
    return PercentagePrice(
        rate=draw(decimals(100, 3)),
        fixed_amount=draw(st.none() | decimals(5, 2)),
        free_units_per_events=draw(st.none() | st.integers(min_value=0, max_value=6)),
        free_units_per_total_aggregation=draw(st.none() | decimals(2_000, 2)),
        per_transaction_min=least,
        per_transaction_max=most,
        **draw(commitments()),
    )


@st.composite
def graduated_percentages(draw: st.DrawFn) -> GraduatedPercentagePrice:
    tiers = tuple(
        PercentageTier(up_to=bound, rate=draw(decimals(100, 3)), flat_amount=draw(amounts))
        for bound in draw(tier_bounds())
    )
    return GraduatedPercentagePrice(tiers=tiers, **draw(commitments()))


event_values = st.lists(decimals(1_000, 2), max_size=12)

unit_prices = st.builds(lambda a, c: UnitPrice(amount=a, **c), amounts, commitments())
package_prices = st.builds(
    lambda a, s, c: PackagePrice(amount=a, quantity_per_package=s, **c),
    amounts,
    st.decimals(min_value="0.01", max_value=1_000, places=2, allow_nan=False),
    commitments(),
)
dynamic_prices = st.builds(
    lambda m, c: DynamicPrice(multiplier=m, **c), decimals(10, 4), commitments()
)
flat_prices = st.builds(
    lambda a, t: FlatPrice(amount=a, payment_term=t), amounts, st.sampled_from(PaymentTerm)
)

usage_priced: st.SearchStrategy[Price] = st.one_of(
    unit_prices, package_prices, dynamic_prices, tiered(), graduated_percentages()
)
"""Models priced from the quantity alone."""

any_price: st.SearchStrategy[Price] = st.one_of(usage_priced, flat_prices, percentage_prices())
