"""A contract's ``products``: the rate cards its subscription follows, in Vayu terms.

The inverse of how ``POST /contracts`` turns products into rate cards: flat
fees with a cadence are ``SUBSCRIPTION`` products, without one ``ONE_TIME``;
unit prices are ``PER_UNIT`` and graduated tiers ``TIERED``, both naming
their feature as ``catalogProductId``. A rate card Vayu has no pricing for
(volume tiers, package, dynamic and percentage prices, sub-day cadences) is
left out rather than shown as something it is not. Amounts are JSON numbers:
vayu-py validates them as strict numbers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterd.domain.catalog.plans import RateCard
from meterd.domain.catalog.pricing import FlatPrice, TieredPrice, TierMode, UnitPrice
from meterd.domain.subscriptions import Subscription
from meterd.domain.subscriptions.models import Item, Phase, Span, item_span

_CADENCE = re.compile(r"^P(\d+)([DWMY])$")
_UNITS = {"D": "DAY", "W": "WEEK", "M": "MONTH", "Y": "YEAR"}
_LETTERS = {v: k for k, v in _UNITS.items()}
DURATION = "vayu.scheduling.duration"
BILLING_DAY = "vayu.scheduling.billingDay"


def scheduling_metadata(raw: Any) -> dict[str, str]:
    """A product's scheduling as rate-card metadata (only well-formed parts)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    day = raw.get("billingDay")
    if isinstance(day, int) and not isinstance(day, bool) and 1 <= day <= 31:
        out[BILLING_DAY] = str(day)
    d = raw.get("duration")
    if isinstance(d, dict) and d.get("unit") in _LETTERS:
        value = d.get("value")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000:
            out[DURATION] = f"P{value}{_LETTERS[d['unit']]}"
    return out


def _scheduling(rc: RateCard, s: Subscription) -> dict[str, Any]:
    m = re.match(r"^P(\d+)([DWMY])$", rc.metadata.get(DURATION, ""))
    duration = {"unit": _UNITS[m.group(2)], "value": int(m.group(1))} if m else _term(s)
    day = rc.metadata.get(BILLING_DAY, "")
    return {
        "billingDay": int(day) if day.isdigit() else s.billing_anchor.day,
        "duration": duration,
    }


def _duration(iso: str | None) -> dict[str, Any] | None:
    m = _CADENCE.match(iso or "")
    if m is None or not 0 < int(m.group(1)) <= 1000:
        return None
    return {"unit": _UNITS[m.group(2)], "value": int(m.group(1))}


def _term(s: Subscription) -> dict[str, Any]:
    """How long the contract runs: whole months or days when it has an end, else one cadence."""
    start, end = s.active_from, s.active_to
    if end is not None and end > start:
        months = (end.year - start.year) * 12 + end.month - start.month
        if 0 < months <= 1000 and end == _add_months(start, months):
            return {"unit": "MONTH", "value": months}
        days, rest = divmod(end - start, timedelta(days=1))
        if not rest and 0 < days <= 1000:
            return {"unit": "DAY", "value": days}
    return _duration(s.billing_cadence) or {"unit": "MONTH", "value": 1}


def _add_months(at: datetime, months: int) -> datetime | None:
    year, month = divmod(at.month - 1 + months, 12)
    try:
        return at.replace(year=at.year + year, month=month + 1)
    except ValueError:
        return None


def _phase(s: Subscription, now: datetime) -> tuple[Phase, Span] | None:
    """The phase the contract shows: now's, else the first (not started) or the last."""
    found = s.phase_at(now)
    if found is not None:
        return found
    visible = s.visible_phases()
    if not visible:
        return None
    return visible[0] if now < s.active_from else visible[-1]


def _items(phase: Phase, span: Span, at: datetime) -> list[Item]:
    """Per rate-card key, the item that runs at ``at`` (the nearest one otherwise)."""
    chosen: dict[str, tuple[Span, Item]] = {}
    for item in phase.items:
        own = item_span(item, span)
        if own.empty:
            continue
        best = chosen.get(item.key)
        if best is None or _closer(own, best[0], at):
            chosen[item.key] = (own, item)
    return [item for _, item in chosen.values()]


def _closer(a: Span, b: Span, at: datetime) -> bool:
    if a.contains(at) != b.contains(at):
        return a.contains(at)
    if a.start <= at and b.start <= at:
        return a.start > b.start
    return a.start < b.start


def _pricing(rc: RateCard) -> dict[str, Any] | None:
    price = rc.price
    if isinstance(price, FlatPrice):
        if rc.billing_cadence is None:
            return {"type": "ONE_TIME", "price": price.amount}
        cadence = _duration(rc.billing_cadence)
        if cadence is None:
            return None
        return {"type": "SUBSCRIPTION", "price": price.amount, "subscriptionCadence": cadence}
    if isinstance(price, UnitPrice):
        return {"type": "PER_UNIT", "price": price.amount}
    if isinstance(price, TieredPrice) and price.mode is TierMode.GRADUATED:
        tiers: list[dict[str, Any]] = []
        start = Decimal(0)
        for t in price.tiers:
            tier: dict[str, Any] = {"fromInclusive": start, "rate": t.unit_amount or Decimal(0)}
            if t.up_to is not None:
                tier["toExclusive"] = t.up_to
                start = t.up_to
            if t.flat_amount is not None:
                tier["flatFee"] = t.flat_amount
            tiers.append(tier)
        return {"type": "TIERED", "tiers": tiers}
    return None


def products(s: Subscription, now: datetime) -> list[dict[str, Any]]:
    found = _phase(s, now)
    if found is None:
        return []
    phase, span = found
    out: list[dict[str, Any]] = []
    for item in _items(phase, span, now):
        rc = item.rate_card
        pricing = _pricing(rc)
        if pricing is None:
            continue
        product: dict[str, Any] = {
            "displayName": rc.name,
            "scheduling": _scheduling(rc, s),
            "pricing": pricing,
        }
        if rc.description:
            product["description"] = rc.description
        if rc.feature_key is not None:
            product["catalogProductId"] = rc.feature_key
        out.append(product)
    return out
