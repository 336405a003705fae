"""Features: create, get, list (array and page), archive, and the refusals."""

from __future__ import annotations

from typing import Any

from openmeter.models import FeatureCreateInputs, MeterCreate
from sdkrun import attempt, client, emit, inputs, utc

cfg = inputs()
c = client()


def view(f: Any) -> dict[str, Any]:
    # ``features.list`` hands back plain dicts (a union type); get/create models.
    d = f if isinstance(f, dict) else f.as_dict()
    return {
        "id": d.get("id"),
        "key": d.get("key"),
        "name": d.get("name"),
        "meterSlug": d.get("meterSlug"),
        "meterGroupByFilters": d.get("meterGroupByFilters"),
        "advancedMeterGroupByFilters": d.get("advancedMeterGroupByFilters"),
        "metadata": d.get("metadata"),
        "archivedAt": d.get("archivedAt"),
    }


c.meters.create(
    MeterCreate(
        slug=cfg["meter"],
        aggregation="SUM",
        event_type="sdk_feat",
        value_property="$.tokens",
        group_by={"model": "$.model", "type": "$.type"},
    )
)
created = []
for spec in cfg["features"]:
    f = c.features.create(FeatureCreateInputs(**spec))
    created.append({**view(f), "createdAt": utc(f.created_at)})
out: dict[str, Any] = {"created": created}
first = created[0]
out["by_id"] = view(c.features.get(first["id"]))
out["by_key"] = view(c.features.get(first["key"]))
out["array"] = [view(f) for f in c.features.list(meter_slug=[cfg["meter"]])]
page = c.features.list(meter_slug=[cfg["meter"]], page=1, page_size=2, order_by="key")
out["page"] = {k: page[k] for k in ("totalCount", "page", "pageSize")} | {
    "keys": [f["key"] for f in page["items"]]
}
out["duplicate"] = attempt(lambda: c.features.create(FeatureCreateInputs(**cfg["features"][0])))
out["bad"] = [attempt(lambda s=s: c.features.create(FeatureCreateInputs(**s))) for s in cfg["bad"]]
out["missing"] = attempt(lambda: c.features.get("no_such_feature"))
out["delete"] = attempt(lambda: c.features.delete(first["id"]))
out["after_delete"] = [view(f)["key"] for f in c.features.list(meter_slug=[cfg["meter"]])]
out["with_archived"] = [
    view(f)["key"] for f in c.features.list(meter_slug=[cfg["meter"]], include_archived=True)
]
out["archived_by_id"] = view(c.features.get(first["id"]))
out["recreated"] = view(c.features.create(FeatureCreateInputs(**cfg["features"][0])))
emit(out)
