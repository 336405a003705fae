"""Runs a list of steps through the SDK: set-up, ingestion, grants, checks.

Each step is ``{"op": ..., "name": ..., **arguments}``; what a step returns
(or the HTTP failure it raised) is reported under its name, so the test can
replay the scenario against its own arithmetic. Grants are referred to by
the names their steps were given.
"""

from __future__ import annotations

from typing import Any

from openmeter.models import (
    CustomerCreate,
    CustomerUsageAttribution,
    EntitlementGrantCreateInputV2,
    EntitlementMeteredV2CreateInputs,
    Event,
    ExpirationPeriod,
    FeatureCreateInputs,
    MeterCreate,
    RecurringPeriodCreateInput,
    ResetEntitlementUsageInput,
)
from sdkrun import attempt, client, emit, inputs, utc, when

cfg = inputs()
c = client()
grants: dict[str, str] = {}


def opt_time(text: str | None) -> Any:
    return when(text) if text else None


def value(v: Any) -> dict[str, Any]:
    return {
        "hasAccess": v.has_access,
        "balance": v.balance,
        "usage": v.usage,
        "overage": v.overage,
        "total": v.total_available_grant_amount,
    }


def grant_view(g: Any) -> dict[str, Any]:
    names = {v: k for k, v in grants.items()}
    return {
        "name": names.get(g.id),
        "amount": g.amount,
        "priority": g.priority,
        "effectiveAt": utc(g.effective_at),
        "expiresAt": utc(g.expires_at),
        "voidedAt": utc(g.voided_at),
        "maxRolloverAmount": g.max_rollover_amount,
        "minRolloverAmount": g.min_rollover_amount,
        "nextRecurrence": utc(g.next_recurrence),
    }


def make_grant(spec: dict[str, Any]) -> EntitlementGrantCreateInputV2:
    exp = spec.get("expiration")
    rec = spec.get("recurrence")
    return EntitlementGrantCreateInputV2(
        amount=spec["amount"],
        priority=spec.get("priority"),
        effective_at=when(spec["effectiveAt"]),
        expiration=ExpirationPeriod(**exp) if exp else None,
        max_rollover_amount=spec.get("maxRolloverAmount"),
        min_rollover_amount=spec.get("minRolloverAmount"),
        recurrence=RecurringPeriodCreateInput(
            interval=rec["interval"], anchor=opt_time(rec.get("anchor"))
        )
        if rec
        else None,
        metadata=spec.get("metadata"),
    )


def run(step: dict[str, Any]) -> Any:
    op = step["op"]
    cev = c.customer_entitlement_v2
    if op == "meter":
        return c.meters.create(MeterCreate(**step["body"])).slug
    if op == "feature":
        return c.features.create(FeatureCreateInputs(**step["body"])).id
    if op == "customer":
        attribution = CustomerUsageAttribution(subject_keys=step["subjects"])
        body = CustomerCreate(name=step["key"], key=step["key"], usage_attribution=attribution)
        return c.customers.create(body).id
    if op == "entitlement":
        body = dict(step["body"])
        period = body.pop("usagePeriod")
        ent = EntitlementMeteredV2CreateInputs(
            type="metered",
            usage_period=RecurringPeriodCreateInput(
                interval=period["interval"], anchor=opt_time(period.get("anchor"))
            ),
            measure_usage_from=when(body.pop("measureUsageFrom")),
            **body,
        )
        made = c.customer_entitlements_v2.post(step["customer"], ent)
        return {k: made.get(k) for k in ("id", "currentUsagePeriod", "lastReset")}
    if op == "grant":
        made = cev.create_customer_entitlement_grant(
            step["customer"], step["feature"], make_grant(step["body"])
        )
        grants[step["name"]] = made.id
        return grant_view(made)
    if op == "ingest":
        c.events.ingest_events([Event(**{**e, "time": when(e["time"])}) for e in step["events"]])
        return len(step["events"])
    if op == "void":
        return c.grants.delete(grants[step["grant"]], at=opt_time(step.get("at")))
    if op == "reset":
        body = ResetEntitlementUsageInput(**{**step["body"], "effective_at": when(step["at"])})
        return cev.reset_customer_entitlement(step["customer"], step["feature"], body)
    if op == "value":
        v = cev.get_customer_entitlement_value(
            step["customer"], step["feature"], time=opt_time(step.get("at"))
        )
        return {
            **value(v),
            "grantBalances": {
                {v: k for k, v in grants.items()}.get(g, g): b
                for g, b in (v.grant_balances or {}).items()
            },
        }
    if op == "value_v1":
        return value(
            c.customer_entitlement.get_customer_entitlement_value(
                step["customer"], step["feature"], time=opt_time(step.get("at"))
            )
        )
    if op == "entitlement_get":
        got = c.customer_entitlements_v2.get(step["customer"], step["feature"])
        return {k: got.get(k) for k in ("currentUsagePeriod", "lastReset", "usagePeriod")}
    if op == "history":
        h = cev.get_customer_entitlement_history(
            step["customer"],
            step["feature"],
            window_size=step["windowSize"],
            from_parameter=opt_time(step.get("from")),
            to=opt_time(step.get("to")),
            window_time_zone=step.get("tz"),
        )
        names = {v: k for k, v in grants.items()}
        return {
            "windows": [
                [utc(w.period.from_property), utc(w.period.to), w.usage, w.balance_at_start]
                for w in h.windowed_history
            ],
            "segments": [
                {
                    "from": utc(s.period.from_property),
                    "to": utc(s.period.to),
                    "usage": s.usage,
                    "overage": s.overage,
                    "balanceAtStart": s.balance_at_start,
                    "balanceAtEnd": s.balance_at_end,
                    "grantUsages": {names[u.grant_id]: u.usage for u in s.grant_usages},
                }
                for s in h.burndown_history
            ],
        }
    if op == "grants":
        listed = cev.get_grants(step["customer"], step["feature"], include_deleted=True)
        return {
            "total": listed.total_count,
            "items": [grant_view(g) for g in listed.items_property],
        }
    if op == "grants_v1":
        raw = c.grants.list(feature=[step["feature"]], subject=[step["subject"]])
        return sorted({v: k for k, v in grants.items()}.get(g["id"], "?") for g in raw)
    if op == "grants_v2":
        page = c.grants_v2.list(
            feature=[step["feature"]], customer=[step["customer"]], page_size=50
        )
        return {
            "total": page.total_count,
            "names": sorted(grant_view(g)["name"] for g in page.items_property),
        }
    raise ValueError(f"unknown step {op}")


out: dict[str, Any] = {}
for step in cfg["steps"]:
    result = attempt(lambda step=step: run(step))
    out[step["name"]] = result
    if "ok" not in result and not step.get("may_fail"):
        emit({"failed_at": step["name"], "result": result, "so_far": out})
        raise SystemExit(0)
emit(out)
