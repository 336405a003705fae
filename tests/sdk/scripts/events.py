"""Scenario 6: listing events, v1 (bare array) and v2 (cursor pages)."""

from __future__ import annotations

from typing import Any

from openmeter.models import Event, MeterCreate
from sdkrun import client, emit, ingested_view, inputs, when

cfg = inputs()
c = client()
m = cfg["meter"]
c.meters.create(
    MeterCreate(
        slug=m["slug"],
        aggregation=m["aggregation"],
        event_type=m["eventType"],
        value_property=m["valueProperty"],
    )
)
c.events.ingest_events([Event(**{**e, "time": when(e["time"])}) for e in cfg["events"]])
subject, start, end = cfg["subject"], when(cfg["from"]), when(cfg["to"])
out: dict[str, Any] = {
    "all": [ingested_view(i) for i in c.events.list(subject=subject, limit=100)],
    "range": [
        ingested_view(i)
        for i in c.events.list(subject=subject, from_parameter=start, to=end, limit=100)
    ],
    "limited": [
        ingested_view(i)
        for i in c.events.list(subject=subject, from_parameter=start, to=end, limit=2)
    ],
}
only_subject = {"subject": {"$eq": subject}}
out["v2_items"] = [ingested_view(i) for i in c.events_v2.list(filter=only_subject, limit=2)]
out["v2_pages"] = [
    [i.event.id for i in p] for p in c.events_v2.list(filter=only_subject, limit=2).by_page()
]
timed = {**only_subject, "time": {"$gte": cfg["from"], "$lt": cfg["to"]}}
out["v2_range"] = [ingested_view(i) for i in c.events_v2.list(filter=timed, limit=2)]
emit(out)
