"""The invariants of every price model, written once.

The dataclasses run these in ``__post_init__`` so an invalid price cannot
exist, and the wire parser runs them on whatever it managed to parse so one
request reports every problem. Field names are the OpenMeter wire names,
joined under ``where``, because the same issue reaches an API client unchanged.

A value the parser already rejected arrives as ``UNKNOWN``: its problem is
reported, so the rules stay quiet about it instead of piling on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum

Add = Callable[[str, str, str], None]
"""``IssueCollector.add``: (field, code, message)."""


class _Unknown(Enum):
    UNKNOWN = "unknown"


UNKNOWN = _Unknown.UNKNOWN
"""A field whose wire value could not be read (its issue is already recorded)."""

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def at(where: str, name: str) -> str:
    """Join a field name under a path prefix; an empty prefix adds nothing."""
    return f"{where}.{name}" if where else name


def item(where: str, name: str, index: int) -> str:
    return f"{at(where, name)}[{index}]"


def _checkable(add: Add, field: str, value: object) -> Decimal | None:
    """The value as a finite Decimal, or None when there is nothing to check."""
    if value is None or value is UNKNOWN:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        add(field, "invalid_type", f"{_leaf(field)} must be a finite decimal number")
        return None
    return value


def _leaf(field: str) -> str:
    return field.rsplit(".", 1)[-1]


def non_negative(add: Add, field: str, value: object) -> None:
    d = _checkable(add, field, value)
    if d is not None and d < 0:
        add(field, "negative", f"{_leaf(field)} must not be negative")


def positive(add: Add, field: str, value: object) -> None:
    d = _checkable(add, field, value)
    if d is not None and d <= 0:
        add(field, "not_positive", f"{_leaf(field)} must be greater than zero")


def percent(add: Add, field: str, value: object) -> None:
    d = _checkable(add, field, value)
    if d is not None and not ZERO <= d <= HUNDRED:
        add(field, "out_of_range", f"{_leaf(field)} must be between 0 and 100")


def count(add: Add, field: str, value: object) -> None:
    if value is None or value is UNKNOWN:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        add(field, "invalid_type", f"{_leaf(field)} must be an integer")
    elif value < 0:
        add(field, "negative", f"{_leaf(field)} must not be negative")


def ordered_pair(add: Add, where: str, low: tuple[str, object], high: tuple[str, object]) -> None:
    """Both bounds non-negative, and the lower one not above the upper one."""
    (low_name, low_value), (high_name, high_value) = low, high
    non_negative(add, at(where, low_name), low_value)
    non_negative(add, at(where, high_name), high_value)
    if (
        isinstance(low_value, Decimal)
        and isinstance(high_value, Decimal)
        and low_value.is_finite()
        and high_value.is_finite()
        and low_value > high_value
    ):
        add(
            at(where, low_name),
            "min_above_max",
            f"{low_name} must not be greater than {high_name}",
        )


def commitments(add: Add, where: str, minimum: object, maximum: object) -> None:
    ordered_pair(add, where, ("minimumAmount", minimum), ("maximumAmount", maximum))


def tier_bounds(add: Add, where: str, bounds: Sequence[object]) -> None:
    """Tiers ascend strictly by ``upToAmount`` and only the last is open-ended.

    Requiring the open-ended last tier means every quantity lands in a tier,
    so pricing never has to invent a rule for usage past the final bound.
    """
    if not bounds:
        add(at(where, "tiers"), "required", "at least one tier is required")
        return
    last = len(bounds) - 1
    highest: Decimal | None = None
    for index, bound in enumerate(bounds):
        field = at(item(where, "tiers", index), "upToAmount")
        if bound is None:
            if index != last:
                add(field, "open_ended_tier", "only the last tier may be open-ended")
            continue
        value = _checkable(add, field, bound)
        if value is None:
            continue
        if value < 0:
            add(field, "negative", "upToAmount must not be negative")
        if highest is not None and value <= highest:
            add(field, "tier_order", "tiers must be in ascending order")
        # Compare later tiers with the highest bound so far: after [100, 50, 80]
        # the 80 is out of order too, not only the 50.
        highest = value if highest is None else max(highest, value)
        if index == last:
            add(field, "open_ended_tier", "the last tier must be open-ended (no upToAmount)")


def price_tier(add: Add, where: str, unit_amount: object, flat_amount: object) -> None:
    """A tier of a tiered price: a unit price, a flat price, or both."""
    if unit_amount is None and flat_amount is None:
        add(where, "required", "a tier needs a unitPrice, a flatPrice or both")
    non_negative(add, at(at(where, "unitPrice"), "amount"), unit_amount)
    non_negative(add, at(at(where, "flatPrice"), "amount"), flat_amount)


def percentage_tier(add: Add, where: str, rate: object, flat_amount: object) -> None:
    non_negative(add, at(where, "rate"), rate)
    non_negative(add, at(where, "flatAmount"), flat_amount)
