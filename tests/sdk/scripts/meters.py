"""Scenario 2: meter definitions through create/get/list/update/delete."""

from __future__ import annotations

from typing import Any

from openmeter.models import Meter, MeterCreate, MeterUpdate
from sdkrun import attempt, client, emit, inputs, utc, when

cfg = inputs()
c = client()


def view(m: Meter) -> dict[str, Any]:
    return {
        "id": m.id,
        "slug": m.slug,
        "name": m.name,
        "description": m.description,
        "metadata": None if m.metadata is None else dict(m.metadata),
        "aggregation": m.aggregation,
        "eventType": m.event_type,
        "valueProperty": m.value_property,
        "groupBy": m.group_by,
        "eventFrom": utc(m.event_from),
        "createdAt": utc(m.created_at),
        "updatedAt": utc(m.updated_at),
        "deletedAt": utc(m.deleted_at),
    }


def create_model(spec: dict[str, Any]) -> MeterCreate:
    return MeterCreate(
        slug=spec["slug"],
        name=spec["name"],
        description=spec["description"],
        metadata=spec["metadata"],
        aggregation=spec["aggregation"],
        event_type=spec["eventType"],
        value_property=spec.get("valueProperty"),
        group_by=spec["groupBy"],
        event_from=when(spec["eventFrom"]),
    )


out: dict[str, Any] = {"created": {}, "by_id": {}, "by_slug": {}}
for spec in cfg["meters"]:
    body: Any
    if spec.get("as_dict"):
        # A plain dict goes out verbatim, so it carries the wire names.
        body = {k: v for k, v in spec.items() if k != "as_dict"}
    else:
        body = create_model(spec)
    m = c.meters.create(body)
    out["created"][spec["slug"]] = view(m)
    out["by_id"][spec["slug"]] = view(c.meters.get(m.id))
    out["by_slug"][spec["slug"]] = view(c.meters.get(spec["slug"]))

out["listed"] = [view(m) for m in c.meters.list()]
out["listed_by_key"] = [m.slug for m in c.meters.list(order_by="key", order="DESC")]

upd = cfg["update"]
out["updated"] = view(
    c.meters.update(
        upd["slug"],
        MeterUpdate(
            name=upd["name"],
            description=upd["description"],
            metadata=upd["metadata"],
            group_by=upd["groupBy"],
        ),
    )
)
out["after_update"] = view(c.meters.get(upd["slug"]))

gone = cfg["delete"]
out["delete"] = attempt(lambda: c.meters.delete(gone))
out["get_deleted"] = attempt(lambda: c.meters.get(gone))
out["delete_again"] = attempt(lambda: c.meters.delete(gone))
out["listed_after_delete"] = [m.slug for m in c.meters.list()]
out["listed_with_deleted"] = [view(m) for m in c.meters.list(include_deleted=True)]

dup = cfg["duplicate"]
out["duplicate"] = attempt(lambda: c.meters.create(create_model(dup)))
# Invalid definitions go through the typed model, as an application would.
out["invalid"] = {
    name: attempt(lambda kw=kw: c.meters.create(MeterCreate(**kw)))
    for name, kw in cfg["invalid"].items()
}
emit(out)
