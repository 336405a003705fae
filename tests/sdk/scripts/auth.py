"""Scenario 8: who may do what, as the SDK reports it."""

from __future__ import annotations

import os
from typing import Any

from openmeter.models import CustomerCreate, Event, MeterCreate
from sdkrun import attempt, client, emit, inputs, result_view, when

cfg = inputs()
m = cfg["meter"]
admin = client()
reader = client(os.environ["OM_READ"])
stranger = client(os.environ["OM_OTHER"])
anonymous = client(anonymous=True)
forged = client("mtd_000000000000_not-a-real-secret")


def event(e: dict[str, Any]) -> Event:
    return Event(**{**e, "time": when(e["time"])})


def meter(slug: str) -> MeterCreate:
    return MeterCreate(
        slug=slug,
        aggregation=m["aggregation"],
        event_type=m["eventType"],
        value_property=m["valueProperty"],
    )


created = admin.meters.create(meter(m["slug"]))
admin.events.ingest_events([event(e) for e in cfg["events"]])
window = {"from_parameter": when(cfg["from"]), "to": when(cfg["to"])}
out: dict[str, Any] = {
    "admin_ids": [x.id for x in admin.meters.list()],
    "anonymous": {
        "list": attempt(lambda: anonymous.meters.list()),
        "ingest": attempt(lambda: anonymous.events.ingest_event(event(cfg["extra"]))),
        "query": attempt(lambda: anonymous.meters.query_json(m["slug"], **window)),
    },
    "forged": {"list": attempt(lambda: forged.meters.list())},
    "reader": {
        "query": attempt(lambda: result_view(reader.meters.query_json(m["slug"], **window))),
        "list": attempt(lambda: [x.slug for x in reader.meters.list()]),
        "ingest": attempt(lambda: reader.events.ingest_event(event(cfg["extra"]))),
        "create_meter": attempt(lambda: reader.meters.create(meter("reader_made"))),
        "create_customer": attempt(
            lambda: reader.customers.create(CustomerCreate(name="No", key="reader-made"))
        ),
    },
    "stranger": {
        "list_before": attempt(lambda: [x.id for x in stranger.meters.list()]),
        "get_slug": attempt(lambda: stranger.meters.get(m["slug"])),
        "get_id": attempt(lambda: stranger.meters.get(created.id)),
        "query": attempt(lambda: stranger.meters.query_json(m["slug"], **window)),
        "events": attempt(lambda: [i.event.id for i in stranger.events.list(limit=1000)]),
    },
}
# The same slug is free in the other namespace, and sees none of the events.
own = stranger.meters.create(meter(m["slug"]))
out["stranger"]["own_id"] = own.id
out["stranger"]["own_query"] = result_view(stranger.meters.query_json(m["slug"], **window))
out["admin_after"] = result_view(admin.meters.query_json(m["slug"], **window))
emit(out)
