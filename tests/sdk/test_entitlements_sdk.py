"""Features, entitlements and grants through the official SDK (openmeter==1.0.0b236).

The server runs on the wall clock, so every scenario is laid out relative to
``B``, midnight ten days ago. Expected balances come from the naive
minute-by-minute model in ``tests/unit/entitlements/reference.py``, fed with
the events the test itself filters by customer and feature.
"""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.harness import SdkServer, run_sdk
from tests.unit.entitlements.reference import G, simulate

pytestmark = pytest.mark.slow

DAY = 1440


def run(python: Path, srv: SdkServer, script: str, tmp_path: Path, inputs: Any) -> Any:
    return run_sdk(python, script, url=srv.url, token=srv.admin, workdir=tmp_path, inputs=inputs)


def ok(outcome: dict[str, Any]) -> Any:
    assert "ok" in outcome, f"SDK call failed: {outcome}"
    return outcome["ok"]


def failed(outcome: dict[str, Any], error: str, status: int) -> None:
    assert "ok" not in outcome, f"expected {error} ({status}), the call succeeded: {outcome}"
    assert (outcome["error"], outcome["status"]) == (error, status), outcome


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def same_instant(text: str | None, t: datetime) -> bool:
    return text is not None and datetime.fromisoformat(text) == t


# -- features ------------------------------------------------------------------


def test_features_create_get_list_archive(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    meter = "sdk_feat_tokens"
    features = [
        {
            "key": "feat_gpt4",
            "name": "GPT-4 tokens",
            "meter_slug": meter,
            "meter_group_by_filters": {"model": "gpt-4"},
            "metadata": {"tier": "pro"},
        },
        {
            "key": "feat_input",
            "name": "Input tokens",
            "meter_slug": meter,
            "advanced_meter_group_by_filters": {"type": {"$in": ["input", "cache"]}},
        },
        {"key": "feat_all", "name": "All tokens", "meter_slug": meter},
    ]
    bad = [
        {"key": "Bad-Key", "name": "x"},
        {"key": "feat_nometer", "name": "x", "meter_slug": "no_such_meter"},
        {
            "key": "feat_badgroup",
            "name": "x",
            "meter_slug": meter,
            "meter_group_by_filters": {"region": "eu"},
        },
    ]
    out = run(
        openmeter_python,
        sdk_server,
        "entitlements_features",
        tmp_path,
        {"meter": meter, "features": features, "bad": bad},
    )
    first = out["created"][0]
    assert first["key"] == "feat_gpt4" and first["meterSlug"] == meter
    assert first["meterGroupByFilters"] == {"model": "gpt-4"}
    assert first["metadata"] == {"tier": "pro"}
    assert out["created"][1]["advancedMeterGroupByFilters"] == {"type": {"$in": ["input", "cache"]}}
    assert out["by_id"] == out["by_key"] == {k: v for k, v in first.items() if k != "createdAt"}
    assert [f["key"] for f in out["array"]] == ["feat_gpt4", "feat_input", "feat_all"]
    assert out["page"] == {
        "totalCount": 3,
        "page": 1,
        "pageSize": 2,
        "keys": ["feat_all", "feat_gpt4"],
    }
    failed(out["duplicate"], "ResourceExistsError", 409)
    for outcome in out["bad"]:
        failed(outcome, "HttpResponseError", 400)
    failed(out["missing"], "ResourceNotFoundError", 404)
    assert ok(out["delete"]) is None
    assert out["after_delete"] == ["feat_input", "feat_all"]
    assert out["with_archived"] == ["feat_gpt4", "feat_input", "feat_all"]
    assert out["archived_by_id"]["archivedAt"] is not None
    # Archiving frees the key.
    assert out["recreated"]["key"] == "feat_gpt4" and out["recreated"]["id"] != first["id"]


# -- entitlements of every type ---------------------------------------------------


def test_entitlement_types_lifecycle_and_listings(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor = today.replace(day=1)
    out = run(
        openmeter_python,
        sdk_server,
        "entitlements_crud",
        tmp_path,
        {
            "meter": "sdk_crud_n",
            "features": [
                ["crud_metered", "sdk_crud_n"],
                ["crud_flag", None],
                ["crud_seats", None],
                ["crud_other", "sdk_crud_n"],
            ],
            "customer": "crud-cust",
            "anchor": iso(anchor),
        },
    )
    m = out["metered"]
    assert m["type"] == "metered" and m["featureKey"] == "crud_metered"
    assert m["customerKey"] == "crud-cust" and m["customerId"]
    assert m["usagePeriod"] == {
        "interval": "MONTH",
        "intervalISO": "P1M",
        "anchor": iso(anchor).replace("+00:00", "Z"),
    }
    assert same_instant(m["measureUsageFrom"], anchor)  # CURRENT_PERIOD_START
    assert same_instant(m["lastReset"], anchor)
    assert same_instant(m["currentUsagePeriod"]["from"], anchor)
    assert (m["isSoftLimit"], m["issueAfterReset"], m["issueAfterResetPriority"]) == (
        False,
        1000,
        2,
    )
    assert m["metadata"] == {"plan": "pro"}
    assert out["boolean"]["type"] == "boolean" and "isSoftLimit" not in out["boolean"]
    assert out["static"]["config"] == '{"seats": 5}'
    failed(out["duplicate"], "ResourceExistsError", 409)
    failed(out["not_metered_meter"], "HttpResponseError", 400)
    failed(out["too_short"], "HttpResponseError", 400)
    assert out["get_by_id"]["id"] == out["get_by_key"]["id"] == m["id"]
    assert out["list"]["totalCount"] == 3
    assert {e["featureKey"] for e in out["list"]["items"]} == {
        "crud_metered",
        "crud_flag",
        "crud_seats",
    }
    assert [(e["featureKey"], e["subjectKey"]) for e in out["v1_list"]] == [
        ("crud_metered", "crud-cust"),
        ("crud_flag", "crud-cust"),
    ]
    assert out["v1_page"] == {"totalCount": 1, "page": 1, "pageSize": 10, "types": ["static"]}
    assert out["v1_get"]["subjectKey"] == "crud-cust" and out["v1_get"]["id"] == m["id"]
    assert out["v2_list"]["totalCount"] == 3 and out["v2_get"]["customerKey"] == "crud-cust"
    assert out["value_boolean"] == dict.fromkeys(
        ("balance", "usage", "overage", "total", "config")
    ) | {"hasAccess": True}
    assert (
        out["value_static"]["hasAccess"] is True and out["value_static"]["config"] == '{"seats": 5}'
    )
    # The default grant from issueAfterReset, untouched: nothing metered yet.
    assert out["value_v1_metered"] == {
        "hasAccess": True,
        "balance": 1000,
        "usage": 0,
        "overage": 0,
        "total": 1000,
        "config": None,
    }
    failed(out["value_missing"], "ResourceNotFoundError", 404)
    new = out["override"]
    assert new["id"] != m["id"] and new["isSoftLimit"] is True
    assert new["usagePeriod"]["interval"] == "P2W" and new["usagePeriod"]["intervalISO"] == "P2W"
    failed(out["override_missing"], "ResourceNotFoundError", 404)
    assert out["old_after_override"]["deletedAt"] is not None
    assert out["after_override"]["totalCount"] == 4
    assert ok(out["delete"]) is None
    failed(out["get_deleted"], "ResourceNotFoundError", 404)
    failed(out["value_deleted"], "ResourceNotFoundError", 404)
    assert {e["featureKey"] for e in out["after_delete"]["items"]} == {"crud_metered", "crud_flag"}
    failed(out["unknown_customer"], "ResourceNotFoundError", 404)


# -- burn-down -------------------------------------------------------------------


class Timeline:
    """Instants of the scenario, ``B`` + days, and the minute offsets the model uses."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.b = self.now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)

    def t(self, days: float) -> datetime:
        return self.b + timedelta(days=days)

    def s(self, days: float) -> str:
        return iso(self.t(days))

    def minute(self, at: datetime) -> int:
        return math.ceil((at - self.b).total_seconds() / 60)


def expected(
    grants: list[G], events: list[tuple[int, Decimal]], resets: dict[int, bool], at: int
) -> dict[str, Any]:
    s = simulate(grants, events, resets, at)
    balance = sum(s.balances.values(), Decimal(0))
    return {
        "hasAccess": balance > 0,
        "balance": float(balance),
        "usage": float(s.usage),
        "overage": float(s.overage),
        "total": float(balance + s.grant_usage),
    }


def event(
    tl: Timeline, eid: str, subject: str, days: float, tokens: float, model: str
) -> dict[str, Any]:
    return {
        "id": eid,
        "source": "sdk-ent",
        "type": "sdk_ent",
        "subject": subject,
        "time": tl.s(days),
        "data": {"tokens": tokens, "model": model},
        "specversion": "1.0",
    }


def metered(
    tl: Timeline, customer: str, name: str, interval: str = "MONTH", **body: Any
) -> dict[str, Any]:
    return {
        "op": "entitlement",
        "name": name,
        "customer": customer,
        "body": {
            "feature_key": "ent_tokens",
            "usagePeriod": {"interval": interval, "anchor": tl.s(0)},
            "measureUsageFrom": tl.s(0),
            **body,
        },
    }


def test_burn_down_grants_resets_late_events(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    tl = Timeline()
    d = tl.s
    burn_events = [
        event(tl, "b1", "burn", 0.5, 30, "m1"),
        event(tl, "b2", "burn-1", 2, 90, "m2"),
        event(tl, "b3", "burn", 2.5, 5, "m3"),  # the feature filters m3 out
        event(tl, "b4", "stranger", 2, 999, "m1"),  # not the customer's
        event(tl, "b5", "burn", 4, 40, "m1"),
        event(tl, "b6", "burn", 5.5, 25, "m1"),
        event(tl, "b7", "burn", 8.5, 100, "m1"),
        event(tl, "b8", "burn-1", 9.5, 8, "m2"),
    ]
    future = tl.now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    grant_specs = {
        "g1": {
            "amount": 100,
            "priority": 1,
            "effectiveAt": d(0),
            "expiration": {"duration": "DAY", "count": 3},
        },
        "g2": {
            "amount": 50,
            "priority": 2,
            "effectiveAt": d(1),
            "maxRolloverAmount": 20,
            "minRolloverAmount": 0,
        },
        "g3": {"amount": 1000, "priority": 1, "effectiveAt": iso(future)},
        "g4": {"amount": 500, "priority": 1, "effectiveAt": d(8)},
        "g5": {
            "amount": 10,
            "priority": 3,
            "effectiveAt": d(0),
            "recurrence": {"interval": "DAY", "anchor": d(0)},
        },
    }
    checks = {"at_2d1h": 2 + 1 / 24, "at_5d18h": 5.75, "at_6d12h": 6.5, "at_7d12h": 7.5, "at_9d": 9}
    hot = tl.now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    steps: list[dict[str, Any]] = [
        {
            "op": "meter",
            "name": "meter",
            "body": {
                "slug": "sdk_ent_tokens",
                "aggregation": "SUM",
                "event_type": "sdk_ent",
                "value_property": "$.tokens",
                "group_by": {"model": "$.model"},
            },
        },
        {
            "op": "feature",
            "name": "feature",
            "body": {
                "key": "ent_tokens",
                "name": "Tokens",
                "meter_slug": "sdk_ent_tokens",
                "advanced_meter_group_by_filters": {"model": {"$in": ["m1", "m2"]}},
            },
        },
        *(
            {"op": "customer", "name": f"c-{k}", "key": k, "subjects": s}
            for k, s in [
                ("burn", ["burn-1"]),
                ("hard", []),
                ("soft", []),
                ("late", []),
                ("rs", []),
                ("rp", []),
            ]
        ),
        metered(tl, "burn", "e_burn", interval="WEEK"),
        *(
            {"op": "grant", "name": n, "customer": "burn", "feature": "ent_tokens", "body": g}
            for n, g in grant_specs.items()
        ),
        {"op": "ingest", "name": "ingest", "events": burn_events},
        {"op": "ingest", "name": "replay", "events": burn_events},  # duplicates: ignored
        {"op": "void", "name": "void_g4", "grant": "g4", "at": d(9)},
        {"op": "void", "name": "void_again", "grant": "g4", "may_fail": True},
        *(
            {"op": "value", "name": n, "customer": "burn", "feature": "ent_tokens", "at": d(x)}
            for n, x in checks.items()
        ),
        {"op": "value", "name": "burn_now", "customer": "burn", "feature": "ent_tokens"},
        {"op": "value_v1", "name": "burn_now_v1", "customer": "burn", "feature": "ent_tokens"},
        {
            "op": "history",
            "name": "history",
            "customer": "burn",
            "feature": "ent_tokens",
            "windowSize": "DAY",
            "from": d(0),
            "to": d(10),
            "tz": "UTC",
        },
        {"op": "grants", "name": "grants", "customer": "burn", "feature": "ent_tokens"},
        {"op": "grants_v1", "name": "grants_v1", "subject": "burn", "feature": "ent_tokens"},
        {"op": "grants_v2", "name": "grants_v2", "customer": "burn", "feature": "ent_tokens"},
        # Soft and hard limits over the same usage.
        metered(tl, "hard", "e_hard"),
        metered(tl, "soft", "e_soft", is_soft_limit=True),
        *(
            {
                "op": "grant",
                "name": f"g_{c}",
                "customer": c,
                "feature": "ent_tokens",
                "body": {"amount": 50, "effectiveAt": d(0)},
            }
            for c in ("hard", "soft")
        ),
        {
            "op": "ingest",
            "name": "ingest_limits",
            "events": [event(tl, "h1", "hard", 1, 80, "m1"), event(tl, "s1", "soft", 1, 80, "m1")],
        },
        {"op": "value", "name": "hard", "customer": "hard", "feature": "ent_tokens"},
        {"op": "value", "name": "soft", "customer": "soft", "feature": "ent_tokens"},
        # A late event: timed before the snapshot the first check stores.
        metered(tl, "late", "e_late"),
        {
            "op": "grant",
            "name": "g_late",
            "customer": "late",
            "feature": "ent_tokens",
            "body": {"amount": 100, "effectiveAt": d(0)},
        },
        {"op": "ingest", "name": "ingest_late_1", "events": [event(tl, "l1", "late", 1, 10, "m1")]},
        {"op": "value", "name": "late_before", "customer": "late", "feature": "ent_tokens"},
        {"op": "ingest", "name": "ingest_late_2", "events": [event(tl, "l2", "late", 2, 15, "m1")]},
        {"op": "value", "name": "late_after", "customer": "late", "feature": "ent_tokens"},
        {
            "op": "ingest",
            "name": "ingest_late_3",
            "events": [
                event(tl, "l2", "late", 2, 15, "m1"),  # the late one again
                {**event(tl, "l3", "late", 0, 1, "m1"), "time": iso(hot)},
            ],
        },  # minutes ago
        {"op": "value", "name": "late_hot", "customer": "late", "feature": "ent_tokens"},
        # Resets: rollover keeping the anchor, and a preserved overage re-anchoring.
        metered(tl, "rs", "e_rs"),
        {
            "op": "grant",
            "name": "ga",
            "customer": "rs",
            "feature": "ent_tokens",
            "body": {"amount": 100, "priority": 1, "effectiveAt": d(0)},
        },
        {
            "op": "grant",
            "name": "gb",
            "customer": "rs",
            "feature": "ent_tokens",
            "body": {"amount": 40, "priority": 2, "effectiveAt": d(0), "maxRolloverAmount": 10},
        },
        metered(tl, "rp", "e_rp", issue_after_reset=50),
        {
            "op": "ingest",
            "name": "ingest_resets",
            "events": [
                event(tl, "r1", "rs", 1, 120, "m1"),
                event(tl, "r2", "rs", 6, 4, "m1"),
                event(tl, "p1", "rp", 1, 70, "m1"),
            ],
        },
        {
            "op": "reset",
            "name": "reset_rs",
            "customer": "rs",
            "feature": "ent_tokens",
            "at": d(5),
            "body": {"retain_anchor": True},
        },
        {
            "op": "reset",
            "name": "reset_rp",
            "customer": "rp",
            "feature": "ent_tokens",
            "at": d(5),
            "body": {"retain_anchor": False, "preserve_overage": True},
        },
        {
            "op": "reset",
            "name": "reset_future",
            "customer": "rp",
            "feature": "ent_tokens",
            "at": iso(tl.now + timedelta(days=1)),
            "body": {},
            "may_fail": True,
        },
        {"op": "value", "name": "rs_now", "customer": "rs", "feature": "ent_tokens"},
        {"op": "value", "name": "rs_before", "customer": "rs", "feature": "ent_tokens", "at": d(3)},
        {"op": "value", "name": "rp_now", "customer": "rp", "feature": "ent_tokens"},
        {"op": "entitlement_get", "name": "rs_get", "customer": "rs", "feature": "ent_tokens"},
        {"op": "entitlement_get", "name": "rp_get", "customer": "rp", "feature": "ent_tokens"},
    ]
    out = run(openmeter_python, sdk_server, "entitlements_balances", tmp_path, {"steps": steps})
    assert "failed_at" not in out, out

    # -- the main burn-down, against the minute-by-minute model
    def g(name: str, idx: int, **kw: Any) -> G:
        spec = grant_specs[name]
        return G(
            id=name,
            amount=Decimal(spec["amount"]),
            priority=spec.get("priority", 1),
            effective=tl.minute(datetime.fromisoformat(spec["effectiveAt"])),
            created=idx,
            max_rollover=Decimal(spec["maxRolloverAmount"])
            if "maxRolloverAmount" in spec
            else None,
            **kw,
        )

    model_grants = [
        g("g1", 0, expires=3 * DAY),
        g("g2", 1),
        g("g3", 2),
        g("g4", 3, voided=9 * DAY),
        g("g5", 4, every=DAY),
    ]
    mine = [
        (tl.minute(datetime.fromisoformat(e["time"])), Decimal(e["data"]["tokens"]))
        for e in burn_events
        if e["subject"] in ("burn", "burn-1") and e["data"]["model"] in ("m1", "m2")
    ]
    weekly = {7 * DAY: False}
    for name, days in checks.items():
        want = expected(model_grants, mine, weekly, tl.minute(tl.t(days)))
        assert _value(out[name]) == want, name
    now_minute = tl.minute(tl.now)
    assert _value(out["burn_now"]) == expected(model_grants, mine, weekly, now_minute)
    assert ok(out["burn_now_v1"]) == expected(model_grants, mine, weekly, now_minute)
    # Worked by hand as well: g5 refilled to 10 today; 100 + 8 used this week.
    assert _value(out["burn_now"]) == {
        "hasAccess": True,
        "balance": 10,
        "usage": 108,
        "overage": 0,
        "total": 118,
    }
    assert ok(out["burn_now"])["grantBalances"] == {"g2": 0, "g5": 10}
    assert ok(out["void_g4"]) is None
    failed(out["void_again"], "ResourceExistsError", 409)

    history = ok(out["history"])
    used = {k: Decimal(0) for k in range(10)}
    for minute, amount in mine:
        used[minute // DAY] += amount
    assert [w[2] for w in history["windows"]] == [float(used[k]) for k in range(10)]
    starts = [expected(model_grants, mine, weekly, k * DAY)["balance"] for k in range(10)]
    assert [w[3] for w in history["windows"]] == starts
    assert [w[0] for w in history["windows"]] == [iso(tl.t(k)) for k in range(10)]
    segments = history["segments"]
    assert sum(s["usage"] for s in segments) == float(sum(a for _, a in mine))
    spent: dict[str, float] = {}
    for s in segments:
        for name, v in s["grantUsages"].items():
            spent[name] = spent.get(name, 0) + v
    # g5 also paid 10 of the overage when it refilled on day 6.
    assert spent == {"g1": 100, "g2": 50, "g4": 100, "g5": 38}
    assert sum(s["overage"] for s in segments) == 15

    listed = ok(out["grants"])
    assert listed["total"] == 5
    by_name = {x["name"]: x for x in listed["items"]}
    assert same_instant(by_name["g1"]["expiresAt"], tl.t(3))
    assert same_instant(by_name["g4"]["voidedAt"], tl.t(9))
    assert same_instant(by_name["g5"]["nextRecurrence"], tl.t(11))
    assert (by_name["g2"]["maxRolloverAmount"], by_name["g3"]["maxRolloverAmount"]) == (20, 1000)
    assert ok(out["grants_v1"]) == ["g1", "g2", "g3", "g4", "g5"]
    assert ok(out["grants_v2"]) == {"total": 5, "names": ["g1", "g2", "g3", "g4", "g5"]}

    # -- soft and hard limits: 80 used of 50 granted
    assert _value(out["hard"]) == {
        "hasAccess": False,
        "balance": 0,
        "usage": 80,
        "overage": 30,
        "total": 50,
    }
    assert _value(out["soft"]) == {
        "hasAccess": True,
        "balance": 0,
        "usage": 80,
        "overage": 30,
        "total": 50,
    }

    # -- late events are counted once the store has them, duplicates never
    assert _value(out["late_before"]) == {
        "hasAccess": True,
        "balance": 90,
        "usage": 10,
        "overage": 0,
        "total": 100,
    }
    assert _value(out["late_after"]) == {
        "hasAccess": True,
        "balance": 75,
        "usage": 25,
        "overage": 0,
        "total": 100,
    }
    assert _value(out["late_hot"]) == {
        "hasAccess": True,
        "balance": 74,
        "usage": 26,
        "overage": 0,
        "total": 100,
    }

    # -- resets
    # rs: 120 used on day 1 (ga 0, gb 20); reset on day 5 keeps gb's 10; 4 more used.
    assert _value(out["rs_before"]) == {
        "hasAccess": True,
        "balance": 20,
        "usage": 120,
        "overage": 0,
        "total": 140,
    }
    assert _value(out["rs_now"]) == {
        "hasAccess": True,
        "balance": 6,
        "usage": 4,
        "overage": 0,
        "total": 10,
    }
    # rp: 70 of the 50 issued; the reset restores 50 and carries the 20 over.
    assert _value(out["rp_now"]) == {
        "hasAccess": True,
        "balance": 30,
        "usage": 0,
        "overage": 0,
        "total": 50,
    }
    failed(out["reset_future"], "HttpResponseError", 400)
    rs, rp = ok(out["rs_get"]), ok(out["rp_get"])
    assert same_instant(rs["lastReset"], tl.t(5)) and same_instant(rp["lastReset"], tl.t(5))
    assert same_instant(rs["currentUsagePeriod"]["from"], tl.t(5))
    assert same_instant(rs["usagePeriod"]["anchor"], tl.t(0))
    assert same_instant(rp["usagePeriod"]["anchor"], tl.t(5))
    assert same_instant(rp["currentUsagePeriod"]["to"], next_month(tl.t(5)))


def next_month(t: datetime) -> datetime:
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def _value(outcome: dict[str, Any]) -> dict[str, Any]:
    v = dict(ok(outcome))
    v.pop("grantBalances", None)
    return v
