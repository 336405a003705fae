"""Why a stored event would not count toward a meter.

Meters never reject events at ingest (they apply retroactively), so listings
explain instead: each event is checked against the meters of its type.
"""

from __future__ import annotations

import json
from typing import Any

from meterd.core.money import parse_decimal
from meterd.domain.meters.jsonpath import MISSING, extract, parse_path
from meterd.domain.meters.models import Aggregation, Meter


def event_problems(event_type: str, data_text: str | None, meters: list[Meter]) -> list[str]:
    """Human-readable reasons, one per meter that cannot use the event."""
    matching = [m for m in meters if m.event_type == event_type]
    if not matching:
        return [f"no meter found for event type: {event_type}"]
    try:
        data: Any = json.loads(data_text) if data_text else None
    except ValueError:
        return ["invalid event: data is not valid JSON"]
    out: list[str] = []
    for m in matching:
        if m.filter is not None and not m.filter.matches(data):
            continue
        if m.aggregation is Aggregation.COUNT or not m.value_property:
            continue
        value = extract(data, parse_path(m.value_property)) if data is not None else MISSING
        where = f"meter {m.slug}"
        if value is MISSING:
            out.append(f"{where}: missing value property: {m.value_property}")
        elif value is None:
            out.append(f"{where}: value cannot be null")
        elif m.aggregation is Aggregation.UNIQUE_COUNT:
            if isinstance(value, dict | list):
                out.append(f"{where}: value must be a scalar")
        elif parse_decimal(value) is None:
            out.append(f"{where}: value cannot be parsed as a number: {value!r}")
    return out
