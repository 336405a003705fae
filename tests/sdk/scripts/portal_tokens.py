"""Scenario: customer portal tokens, created with an API key and used on their own.

Input: meters, customers and events to set up; the tokens to create (by name);
a plan of portal queries in phases (``before`` invalidation, ``after`` it,
``expired`` once the short-lived token has run out). A step names the token
it runs with; ``$customer:<key>`` stands for that customer's id, and
``params`` are raw query parameters the SDK does not offer (such as
``subject``), sent through the SDK's ``params`` pass-through.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from openmeter.models import (
    CustomerCreate,
    CustomerUsageAttribution,
    Event,
    MeterCreate,
    PortalToken,
)
from sdkrun import attempt, client, emit, inputs, result_view, utc, when

TIMES = {"from_parameter", "to"}

cfg = inputs()
admin = client()
reader = client(os.environ["OM_READ"])
for spec in cfg["meters"]:
    admin.meters.create(
        MeterCreate(
            slug=spec["slug"],
            aggregation=spec["aggregation"],
            event_type=spec["eventType"],
            value_property=spec.get("valueProperty"),
            group_by=spec["groupBy"],
        )
    )
customers = {}
for cust in cfg["customers"]:
    made = admin.customers.create(
        CustomerCreate(
            name=cust["key"],
            key=cust["key"],
            usage_attribution=CustomerUsageAttribution(subject_keys=cust["subjectKeys"]),
        )
    )
    customers[cust["key"]] = made.id
admin.events.ingest_events([Event(**{**e, "time": when(e["time"])}) for e in cfg["events"]])


def token_view(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "subject": t.subject,
        "allowedMeterSlugs": t.allowed_meter_slugs,
        "expired": t.expired,
        "expiresAt": utc(t.expires_at),
        "createdAt": utc(t.created_at),
        "token": t.token,
    }


tokens: dict[str, Any] = {}
for name, spec in cfg["tokens"].items():
    if "expiresInSeconds" in spec:
        # ``expiresAt`` is read-only in the SDK model, so the model would drop
        # it; a plain dict body is sent verbatim.
        at = datetime.now(UTC) + timedelta(seconds=spec["expiresInSeconds"])
        body: Any = {"subject": spec["subject"], "expiresAt": at.isoformat()}
    else:
        body = PortalToken(
            subject=spec["subject"], allowed_meter_slugs=spec.get("allowedMeterSlugs")
        )
    tokens[name] = admin.portal.portal_tokens.create(body)
portals = {name: client(t.token) for name, t in tokens.items()}


def fill(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("$customer:"):
        return customers[value.split(":", 1)[1]]
    if isinstance(value, list):
        return [fill(v) for v in value]
    return value


def call(step: dict[str, Any]) -> Any:
    c = portals[step["token"]] if "token" in step else admin
    kwargs = {k: when(v) if k in TIMES else fill(v) for k, v in step.get("kwargs", {}).items()}
    if "params" in step:
        kwargs["params"] = {k: fill(v) for k, v in step["params"].items()}
    if step["op"] == "query_json":
        return result_view(c.portal.portal_meters.query_json(step["meter"], **kwargs))
    if step["op"] == "query_csv":
        return c.portal.portal_meters.query_csv(step["meter"], **kwargs)
    raise ValueError(step["op"])


def run(phase: str) -> dict[str, Any]:
    return {s["name"]: attempt(lambda s=s: call(s)) for s in cfg["plan"] if s["phase"] == phase}


out: dict[str, Any] = {"customers": customers}
out["created"] = {name: token_view(t) for name, t in tokens.items()}
out["before"] = run("before")

some = portals[cfg["probe"]]
first_meter = cfg["meters"][0]["slug"]
stray = Event(**{**cfg["events"][0], "id": "portal-stray", "time": when(cfg["events"][0]["time"])})
out["portal_elsewhere"] = {
    "meters.list": attempt(lambda: some.meters.list()),
    "meters.query_json": attempt(lambda: some.meters.query_json(first_meter)),
    "events.ingest_event": attempt(lambda: some.events.ingest_event(stray)),
    "events.list": attempt(lambda: some.events.list()),
    "customers.list": attempt(lambda: some.customers.list()),
    "portal_tokens.list": attempt(lambda: some.portal.portal_tokens.list()),
    "portal_tokens.create": attempt(
        lambda: some.portal.portal_tokens.create(PortalToken(subject="anyone"))
    ),
    "portal_tokens.invalidate": attempt(
        lambda: some.portal.portal_tokens.invalidate(subject="anyone")
    ),
}
out["keys_on_portal"] = {
    "admin": attempt(lambda: admin.portal.portal_meters.query_json(first_meter)),
    "reader": attempt(lambda: reader.portal.portal_meters.query_json(first_meter)),
}
out["listed"] = [token_view(t) for t in admin.portal.portal_tokens.list(limit=100)]
out["listed_by_reader"] = [t.id for t in reader.portal.portal_tokens.list()]
out["listed_two"] = [t.id for t in admin.portal.portal_tokens.list(limit=2)]
out["reader_create"] = attempt(
    lambda: reader.portal.portal_tokens.create(PortalToken(subject="anyone"))
)

inv = cfg["invalidate"]
out["invalidate"] = {
    "by_id": attempt(lambda: admin.portal.portal_tokens.invalidate(id=tokens[inv["id"]].id)),
    "by_subject": attempt(lambda: admin.portal.portal_tokens.invalidate(subject=inv["subject"])),
    "unknown_id": attempt(lambda: admin.portal.portal_tokens.invalidate(id=inv["unknown_id"])),
    "by_reader": attempt(lambda: reader.portal.portal_tokens.invalidate(subject=inv["subject"])),
}
out["after"] = run("after")
out["listed_after"] = [token_view(t) for t in admin.portal.portal_tokens.list(limit=100)]

# Wait out the short-lived token (whole seconds on the server, so add one).
short = tokens[cfg["short"]]
time.sleep(max(0.0, (short.expires_at - datetime.now(UTC)).total_seconds()) + 1.0)
out["expired"] = run("expired")
emit(out)
