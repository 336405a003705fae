"""Every Vayu SDK method meterd serves, in one scenario; prints one JSON result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jwt
from compatrun import emit, inputs, key, status_of, url
from openapi.api.plans_api import PlansApi
from openapi.exceptions import ApiException
from openapi.models.aggregation_method import AggregationMethod
from openapi.models.event import Event
from openapi.models.filter import Filter
from vayu_sdk import Vayu

cfg = inputs()
vayu = Vayu(key(), host=url() + "/vayu")
out: dict[str, Any] = {}


def dump(model: Any) -> Any:
    return json.loads(json.dumps(model.to_dict(), default=str))


def status(call: Any) -> Any:
    return status_of(call, (ApiException,))


def ev(d: dict[str, Any]) -> Event:
    return Event.from_dict({**d, "timestamp": d["timestamp"].isoformat()})


created = vayu.customers.create(name="Acme Inc", external_id="acme-1", aliases=["acme-alt"])
out["created"] = dump(created)
cid = created.customer.id
out["got"] = dump(vayu.customers.get(cid))
out["by_external"] = dump(vayu.customers.getByExternalId("acme-1"))
out["by_name"] = dump(vayu.customers.get_by_name("Acme Inc"))
out["updated"] = dump(vayu.customers.update(cid, name="Acme 2"))
other = vayu.customers.create(name="Other", external_id="other-1")
out["listed"] = dump(vayu.customers.list(limit=1))
out["listed2"] = dump(vayu.customers.list(limit=1, cursor=out["listed"]["nextCursor"]))
out["deleted_customer"] = dump(vayu.customers.delete(other.customer.id))
out["get_deleted"] = status(lambda: vayu.customers.get(other.customer.id))

t = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
events: list[dict[str, Any]] = [
    {
        "name": "api_call",
        "timestamp": t,
        "customerAlias": "acme-alt",
        "ref": f"r{i}",
        "data": {"tokens": 10 * (i + 1), "region": "US" if i % 2 == 0 else "EU"},
    }
    for i in range(4)
]
# A naive timestamp (no offset), as the SDK sends one: taken as UTC.
events.append(
    {
        "name": "api_call",
        "timestamp": datetime(2024, 5, 1, 13),
        "customerAlias": "acme-1",
        "ref": "naive",
        "data": {"tokens": 1, "region": "US"},
    }
)
out["sent"] = dump(vayu.events.send([ev(e) for e in events]))
out["resent"] = dump(vayu.events.send([ev(events[0]), ev({**events[0], "ref": "r-new"})]))

meter_id = cfg["meter_id"]
out["meters"] = dump(vayu.meters.list())
out["meter"] = dump(vayu.meters.get(meter_id))
us_only = {
    "conditions": [{"criterions": [{"field": "region", "operator": "Equals", "value": "US"}]}]
}
out["meter_updated"] = dump(
    vayu.meters.update(
        meter_id,
        name="Tokens (US)",
        aggregation_method=AggregationMethod.from_dict({"operator": "Sum", "field": "data.tokens"}),
        filter=Filter.from_dict(us_only),
    )
)
# Max of nothing: every operator but Count needs a field.
to_max = AggregationMethod.from_dict({"operator": "Max"})
out["meter_change_refused"] = status(
    lambda: vayu.meters.update(meter_id, aggregation_method=to_max)
)

dry = [
    ev({**events[0], "ref": "dry-1"}),
    ev({**events[1], "ref": "dry-2", "customerAlias": "nobody"}),
]
out["dry_run"] = dump(vayu.events.dry_run(dry))
start, end = datetime(2024, 4, 30, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
out["query"] = dump(vayu.events.query(start, end, event_name="api_call", limit=3))
out["query2"] = dump(
    vayu.events.query(
        start, end, event_name="api_call", limit=3, cursor=out["query"].get("nextCursor")
    )
)
out["event"] = dump(vayu.events.get("r0"))
out["deleted_event"] = dump(vayu.events.delete("r2"))
out["deleted_refs"] = dump(vayu.events.delete_by_refs(["r1", "naive"]))
out["get_deleted_event"] = status(lambda: vayu.events.get("r2"))
corrected = {**events[2], "data": {"tokens": 7, "region": "US"}}
out["resent_after_delete"] = dump(vayu.events.send([ev(corrected)]))

# vayu-py wires no plans property; its generated PlansApi is used directly.
plans = PlansApi(vayu._Vayu__client.client)  # type: ignore[attr-defined]
out["plans"] = dump(plans.list_plans())
out["plan"] = dump(plans.get_plan(cfg["plan_id"]))
out["plan_deleted"] = dump(plans.delete_plan(cfg["draft_plan_id"]))

# A token the server refuses (bad signature): the SDK logs in again after the 401.
auth = vayu._Vayu__client.auth  # type: ignore[attr-defined]
claims = jwt.decode(auth.access_token, options={"verify_signature": False})
out["token_lifetime"] = claims["exp"] - claims["iat"]
token = auth.access_token
auth._access_token = token[:-4] + ("BBBB" if token.endswith("AAAA") else "AAAA")
out["after_bad_token"] = dump(vayu.customers.get(cid))["customer"]["id"]
out["meter_deleted"] = dump(vayu.meters.delete(cfg["delete_meter_id"]))
emit(out)
