"""Vayu meter redefinitions through vayu-py, each followed by the OpenMeter view.

After every ``meters.update`` the script reads the same meter through the
OpenMeter API of the namespace (plain urllib: the SDK has no such call), so
the result shows what each definition made of the same stored events.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from compatrun import emit, inputs, key, status_of, url
from openapi.exceptions import ApiException
from openapi.models.aggregation_method import AggregationMethod
from openapi.models.event import Event
from vayu_sdk import Vayu

cfg = inputs()
vayu = Vayu(key(), host=url() + "/vayu")
out: dict[str, Any] = {}


def om(path: str) -> Any:
    req = urllib.request.Request(url() + path, headers={"Authorization": f"Bearer {key()}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def total(slug: str) -> float:
    return sum(float(r["value"]) for r in om(f"/api/v1/meters/{slug}/query")["data"])


def usage() -> float:
    return float(om("/api/v2/customers/acme/entitlements/calls/value")["usage"])


def method(operator: str, field: str | None = None) -> AggregationMethod:
    return AggregationMethod.from_dict({"operator": operator, "field": field})


now = datetime.now(UTC).replace(microsecond=0)
rows = [
    (26, "charge", 5, "a"),
    (25, "charge", 20, "b"),
    (24, "charge", 7, "a"),
    (25, "refund", 3, "c"),
]
sent = vayu.events.send(
    [
        Event.from_dict(
            {
                "name": name,
                "timestamp": (now - timedelta(hours=hours)).isoformat(),
                "customerAlias": "acme",
                "ref": f"e{i}",
                "data": {"amount": amount, "user": user},
            }
        )
        for i, (hours, name, amount, user) in enumerate(rows)
    ]
)
out["sent"] = len(sent.valid_events)

# The same stored events under every Vayu operator.
spend = cfg["spend"]
steps = [("Max", "amount"), ("Min", "data.amount"), ("Average", "amount"), ("First", "amount"),
         ("Last", "amount"), ("Distinct", "user"), ("Count", None), ("Sum", "amount")]  # fmt: skip
out["spend"] = {"Sum": total("spend")}
for operator, field in steps[:-1]:
    got = vayu.meters.update(spend, aggregation_method=method(operator, field)).meter
    out["spend"][operator] = total("spend")
    out.setdefault("methods", []).append(got.aggregation_method.to_dict())
got = vayu.meters.update(spend, event_name="refund", aggregation_method=method(*steps[-1])).meter
out["refund"] = {"eventName": got.event_name, "total": total("spend")}
out["om_spend"] = om("/api/v1/meters/spend")

# A meter with a metered entitlement: its balance follows the new definition.
calls = cfg["calls"]
out["calls_before"] = [usage(), usage()]
vayu.meters.update(calls, aggregation_method=method("Distinct", "data.user"))
out["calls_distinct"] = [usage(), total("calls")]
out["calls_to_max"] = status_of(
    lambda: vayu.meters.update(calls, aggregation_method=method("Max", "amount")),
    (ApiException,),
)
out["om_calls"] = om("/api/v1/meters/calls")
emit(out)
