"""Scenario 1: the three ingest methods, duplicates, and sub-second times."""

from __future__ import annotations

from typing import Any

from openmeter.models import Event, MeterCreate
from sdkrun import attempt, client, emit, ingested_view, inputs, result_view, when


def event(wire: dict[str, Any]) -> Event:
    return Event(**{**wire, "time": when(wire["time"])})


cfg = inputs()
c = client()
calls = {
    "ingest_event": attempt(lambda: c.events.ingest_event(event(cfg["single"]))),
    "ingest_events": attempt(lambda: c.events.ingest_events([event(e) for e in cfg["batch"]])),
    "ingest_events_json_list": attempt(
        lambda: c.events.ingest_events_json([event(e) for e in cfg["json_list"]])
    ),
    "ingest_events_json_model": attempt(
        lambda: c.events.ingest_events_json(event(cfg["json_one"]))
    ),
}
# Re-sent copies (same id and source, other data) through every method.
resent = [event(e) for e in cfg["resent"]]
calls["resend_event"] = attempt(lambda: c.events.ingest_event(resent[0]))
calls["resend_events"] = attempt(lambda: c.events.ingest_events(resent[1:3]))
calls["resend_events_json"] = attempt(lambda: c.events.ingest_events_json(resent[3:]))
# One batch holding the same new event twice.
calls["twice_in_one_batch"] = attempt(
    lambda: c.events.ingest_events([event(cfg["twice"]), event(cfg["twice"])])
)
# The SDK serialises a plain dict passed here as an empty body.
calls["plain_dict"] = attempt(lambda: c.events.ingest_events_json(cfg["plain_dict"]))

for spec in cfg["meters"]:
    c.meters.create(
        MeterCreate(
            slug=spec["slug"],
            aggregation=spec["aggregation"],
            event_type=spec["eventType"],
            value_property=spec.get("valueProperty"),
        )
    )
totals = {
    spec["slug"]: result_view(
        c.meters.query_json(spec["slug"], from_parameter=when(cfg["from"]), to=when(cfg["to"]))
    )
    for spec in cfg["meters"]
}
listed = [ingested_view(i) for i in c.events.list(subject=cfg["subject"], limit=100)]
emit({"calls": calls, "totals": totals, "listed": listed})
