"""Scenario 7: the async client sends the same requests and reads the same answers.

Both clients ingest the same events (each under its own subject) and run the
same queries; the sync client creates the meter, the async one reads it back.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openmeter.models import Event, MeterCreate
from sdkrun import aio_client, client, emit, ingested_view, inputs, result_view, when

TIMES = {"from_parameter", "to"}
cfg = inputs()


def events(key: str) -> list[Event]:
    return [Event(**{**e, "time": when(e["time"])}) for e in cfg[key]]


def kwargs(raw: dict[str, Any], subject: str) -> dict[str, Any]:
    out = {k: when(v) if k in TIMES else v for k, v in raw.items()}
    out["subject"] = [subject]
    return out


sync = client()
m = cfg["meter"]
sync.meters.create(
    MeterCreate(
        slug=m["slug"],
        aggregation=m["aggregation"],
        event_type=m["eventType"],
        value_property=m["valueProperty"],
        group_by=m["groupBy"],
    )
)
sync.events.ingest_events(events("sync_events"))
sync_results = [
    result_view(sync.meters.query_json(m["slug"], **kwargs(q, cfg["sync_subject"])))
    for q in cfg["queries"]
]
sync_listed = [
    ingested_view(i)
    for i in sync.events_v2.list(filter={"subject": {"$eq": cfg["sync_subject"]}}, limit=2)
]


async def main() -> dict[str, Any]:
    async with aio_client() as c:
        meter = await c.meters.get(m["slug"])
        await c.events.ingest_events_json(events("async_events"))
        results = [
            result_view(await c.meters.query_json(m["slug"], **kwargs(q, cfg["async_subject"])))
            for q in cfg["queries"]
        ]
        listed = [
            ingested_view(i)
            async for i in c.events_v2.list(
                filter={"subject": {"$eq": cfg["async_subject"]}}, limit=2
            )
        ]
        return {"meter": meter.slug, "results": results, "listed": listed}


emit({"sync": {"results": sync_results, "listed": sync_listed}, "async": asyncio.run(main())})
