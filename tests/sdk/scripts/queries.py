"""Scenario 3: meter queries in every form the SDK offers.

Input: meters to create, one customer, the events, and a plan of named
calls. A call's kwargs use the SDK's own parameter names; timestamps arrive
as ISO text and the placeholder ``$customer`` stands for the new customer's id.
"""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    CustomerCreate,
    CustomerUsageAttribution,
    Event,
    MeterCreate,
    MeterQueryRequest,
)
from sdkrun import attempt, client, emit, inputs, result_view, when

TIMES = {"from_parameter", "to", "from_property"}

cfg = inputs()
c = client()
for spec in cfg["meters"]:
    c.meters.create(
        MeterCreate(
            slug=spec["slug"],
            aggregation=spec["aggregation"],
            event_type=spec["eventType"],
            value_property=spec.get("valueProperty"),
            group_by=spec["groupBy"],
            event_from=when(spec["eventFrom"]) if "eventFrom" in spec else None,
        )
    )
cust = cfg["customer"]
customer = c.customers.create(
    CustomerCreate(
        name=cust["name"],
        key=cust["key"],
        usage_attribution=CustomerUsageAttribution(subject_keys=cust["subjectKeys"]),
    )
)
events = [Event(**{**e, "time": when(e["time"])}) for e in cfg["events"]]
for i in range(0, len(events), 250):
    c.events.ingest_events(events[i : i + 250])


def fill(value: Any) -> Any:
    if value == "$customer":
        return customer.id
    if isinstance(value, list):
        return [fill(v) for v in value]
    return value


def prepare(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: when(v) if k in TIMES else fill(v) for k, v in kwargs.items()}


def call(step: dict[str, Any]) -> Any:
    op, slug, kwargs = step["op"], step["meter"], prepare(step.get("kwargs", {}))
    if op == "query_json":
        return result_view(c.meters.query_json(slug, **kwargs))
    if op == "query":
        return result_view(c.meters.query(slug, MeterQueryRequest(**kwargs)))
    if op == "query_csv":
        return c.meters.query_csv(slug, **kwargs)
    if op == "query_csv_post":
        return c.meters.query_csv_post(slug, **kwargs)
    if op == "list_subjects":
        return c.meters.list_subjects(slug, **kwargs)
    if op == "list_group_by_values":
        return c.meters.list_group_by_values(slug, step["key"], **kwargs)
    raise ValueError(op)


emit(
    {
        "customer": customer.id,
        "results": {step["name"]: attempt(lambda step=step: call(step)) for step in cfg["plan"]},
    }
)
