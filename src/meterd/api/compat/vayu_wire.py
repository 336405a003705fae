"""Vayu-shaped views of meterd objects (customers, events, meters, plans)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from meterd.api.compat.events import data_object
from meterd.api.compat.vayu_common import CUSTOMER, METER, PLAN, when
from meterd.api.container import ContainerLike
from meterd.core.filters import StringFilter
from meterd.domain.catalog.plans import Plan
from meterd.domain.customers import Customer
from meterd.domain.events.models import StoredEvent
from meterd.domain.meters import Aggregation, Meter
from meterd.domain.meters.jsonpath import MISSING, extract

OPERATORS = {
    Aggregation.COUNT: "Count",
    Aggregation.SUM: "Sum",
    Aggregation.UNIQUE_COUNT: "Distinct",
    Aggregation.MAX: "Max",
    Aggregation.MIN: "Min",
    Aggregation.AVG: "Average",
    Aggregation.FIRST: "First",
    Aggregation.LATEST: "Last",
}
AGGREGATIONS = {v: k for k, v in OPERATORS.items()}
# Vayu criterion operators and their FilterString equivalents.
CRITERIA = {
    "Equals": "$eq",
    "DoesntEqual": "$ne",
    "In": "$in",
    "Contains": "$contains",
    "DoesntContain": "$ncontains",
    "LargerThan": "$gt",
    "LowerThan": "$lt",
    "LowerEqualTo": "$lte",
    "LargerEqualTo": "$gte",
}
CRITERIA_BACK = {v: k for k, v in CRITERIA.items()}
CADENCE = {
    "P1M": "Monthly",
    "P2M": "BiMonthly",
    "P3M": "Quarterly",
    "P6M": "SixMonths",
    "P1Y": "Yearly",
}


def customer(c: ContainerLike, cu: Customer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": cu.name,
        "aliases": list(cu.subject_keys),
        "externalId": cu.key,
        "contacts": [],
        "id": c.external_ids.alias(cu.namespace, CUSTOMER, cu.id),
        "createdAt": when(cu.created_at),
        "updatedAt": when(cu.updated_at),
    }
    if cu.primary_email:
        out["contacts"] = [{"name": cu.name, "email": cu.primary_email}]
    if cu.currency:
        out["currency"] = cu.currency
    a = cu.billing_address
    if a is not None:
        address = {
            "country": a.country,
            "city": a.city,
            "addressText": a.line1,
            "state": a.state,
            "postalCode": a.postal_code,
        }
        out["address"] = {k: v for k, v in address.items() if v is not None}
    if cu.deleted_at is not None:
        out["deletedAt"] = when(cu.deleted_at)
    return out


def event(e: StoredEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": e.type,
        "timestamp": when(e.time),
        "customerAlias": e.subject,
        "ref": e.id,
        "id": e.id,
        "createdAt": when(e.stored_at),
        "updatedAt": when(e.stored_at),
    }
    data = data_object(e)
    if data is not None:
        out["data"] = data
    return out


def field_of(path: str | None) -> str | None:
    """``$.tokens`` shown as Vayu's ``tokens`` (a field inside ``data``)."""
    if path is None:
        return None
    return path[2:] if path.startswith("$.") else path


def path_of(field: str) -> str:
    text = field.removeprefix("data.")
    return text if text.startswith("$") else f"$.{text}"


def _criterions(path: str, f: StringFilter) -> list[dict[str, str]] | None:
    if f.op == "$and":
        out: list[dict[str, str]] = []
        for child in f.children:
            part = _criterions(path, child)
            if part is None:
                return None
            out.extend(part)
        return out
    name = field_of(path) or path
    if f.op == "$exists":
        op = "Exists" if f.exists else "DoesntExists"
        return [{"field": name, "operator": op, "value": ""}]
    if f.op in ("$in", "$nin") and f.op in CRITERIA_BACK:
        return [{"field": name, "operator": CRITERIA_BACK[f.op], "value": ",".join(f.values)}]
    if f.op in CRITERIA_BACK:
        return [{"field": name, "operator": CRITERIA_BACK[f.op], "value": f.value or ""}]
    return None


def meter_filter(m: Meter) -> dict[str, Any] | None:
    """The meter's filter in Vayu terms; None when it uses operators Vayu lacks."""
    if m.filter is None or not m.filter.conditions:
        return None
    conditions = []
    for cond in m.filter.conditions:
        crits: list[dict[str, str]] = []
        for c in cond:
            part = _criterions(c.path, c.filter)
            if part is None:
                return None
            crits.extend(part)
        conditions.append({"criterions": crits})
    return {"conditions": conditions}


def aggregation_method(m: Meter) -> dict[str, Any]:
    out: dict[str, Any] = {"operator": OPERATORS[m.aggregation]}
    field = field_of(m.value_property)
    if field is not None:
        out["field"] = field
    return out


def meter(c: ContainerLike, m: Meter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": m.name,
        "eventName": m.event_type,
        "aggregationMethod": aggregation_method(m),
        "id": c.external_ids.alias(m.namespace, METER, m.id),
        "createdAt": when(m.created_at),
        "updatedAt": when(m.updated_at),
    }
    f = meter_filter(m)
    if f is not None:
        out["filter"] = f
    if m.deleted_at is not None:
        out["deletedAt"] = when(m.deleted_at)
    return out


def event_value(m: Meter, data: Any) -> Decimal | int | None:
    """What one event adds to the meter: 1 for counts, else its number (None if absent)."""
    if m.aggregation in (Aggregation.COUNT, Aggregation.UNIQUE_COUNT):
        return 1
    segments = m.value_segments
    raw = extract(data, segments) if segments is not None else MISSING
    if raw is MISSING or isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def plan(c: ContainerLike, p: Plan) -> dict[str, Any]:
    now = c.clock.now()
    status = p.status(now).value
    out: dict[str, Any] = {
        "name": p.name,
        "status": "Active" if status == "active" else "Inactive",
        # paymentTerm stays out: vayu-py 0.3.11 fails on any value of it.
        "billingData": {
            "billingInterval": CADENCE.get(p.billing_cadence, "Monthly"),
            "duration": -1,
            "autoRenewal": True,
            "proRated": p.pro_rating_enabled,
        },
        "id": c.external_ids.alias(p.namespace, PLAN, p.id),
        "createdAt": when(p.created_at),
        "updatedAt": when(p.updated_at),
    }
    if p.deleted_at is not None:
        out["deletedAt"] = when(p.deleted_at)
    return out
