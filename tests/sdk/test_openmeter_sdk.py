"""The official OpenMeter Python SDK (openmeter==1.0.0b236) against a real meterd.

Every operation goes through the SDK in its own virtualenv (one script per
scenario, see ``scripts/``), and every number it reports is checked against
``expected.py``, which computes usage on its own from the same events.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.expected import (
    Ev,
    MeterSpec,
    QuerySpec,
    as_floats,
    expected_rows,
    lookup,
    number,
    observed,
)
from tests.sdk.harness import SdkServer, run_sdk

pytestmark = pytest.mark.slow


def at(text: str) -> datetime:
    """An instant written in UTC (``2024-03-31T01:00:00.5``)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def run(
    python: Path,
    srv: SdkServer,
    script: str,
    tmp_path: Path,
    inputs: Any = None,
    token: str | None = None,
    **extra_env: str,
) -> Any:
    return run_sdk(
        python,
        script,
        url=srv.url,
        token=token or srv.admin,
        workdir=tmp_path,
        inputs=inputs,
        extra_env=extra_env,
    )


def ok(outcome: dict[str, Any]) -> Any:
    assert "ok" in outcome, f"SDK call failed: {outcome}"
    return outcome["ok"]


def failed(outcome: dict[str, Any], error: str, status: int) -> dict[str, Any] | None:
    """Assert the SDK raised exactly ``error`` for ``status``; the problem model."""
    assert "ok" not in outcome, f"expected {error} ({status}), the call succeeded: {outcome}"
    assert (outcome["error"], outcome["status"]) == (error, status), outcome
    model: dict[str, Any] | None = outcome["model"]
    return model


def problem_fields(model: dict[str, Any] | None) -> set[str]:
    assert model is not None, "a 400 must carry a problem body the SDK can parse"
    return {v["field"] for v in model["extensions"]["validationErrors"]}


# --------------------------------------------------------------------------
# 1. Ingest


def test_ingest_three_ways_dedupes_and_keeps_microseconds(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    subject, kind, src = "ingest-subj", "sdk_ingest", "sdk-ingest"

    def ev(i: str, t: datetime, data: dict[str, Any], source: str = src) -> Ev:
        return Ev(id=i, type=kind, subject=subject, time=t, data=data, source=source)

    first = {
        "ing-1": ev("ing-1", at("2024-05-01T10:00:00.123456"), {"tokens": 5}),
        "ing-2": ev("ing-2", at("2024-05-01T10:00:01.000001"), {"tokens": 7}),
        "ing-3": ev("ing-3", at("2024-05-01T10:00:02.5"), {"tokens": 11}),
        "ing-2b": ev("ing-2", at("2024-05-01T10:00:03"), {"tokens": 19}, source=f"{src}-b"),
        "ing-4": ev("ing-4", at("2024-05-01T10:00:03.999999"), {"tokens": "2.5"}),
        "ing-5": ev("ing-5", at("2024-05-01T10:00:04"), {"note": "no tokens"}),
        "ing-6": ev("ing-6", at("2024-05-01T10:00:05.000123"), {"tokens": 13}),
        "ing-7": ev("ing-7", at("2024-05-01T10:00:06.654321"), {"tokens": 17}),
    }
    single = first["ing-1"].wire()
    # Sent with a +02:00 offset: the SDK converts it to UTC itself.
    single["time"] = first["ing-1"].time.astimezone(timezone(timedelta(hours=2))).isoformat()
    # Copies of stored events with other data: the first copy must win.
    resent = [
        Ev(e.id, e.type, e.subject, e.time, {"tokens": 1000}, e.source).wire()
        for e in (first[k] for k in ("ing-1", "ing-2", "ing-3", "ing-4", "ing-6"))
    ]
    lost = ev("ing-8", at("2024-05-01T10:00:07"), {"tokens": 23})
    meters = [
        MeterSpec("ingest_sum", "SUM", kind, "$.tokens"),
        MeterSpec("ingest_count", "COUNT", kind),
    ]
    start, end = at("2024-05-01T10:00:00"), at("2024-05-01T11:00:00")
    window = QuerySpec(start=start, end=end)
    out = run(
        openmeter_python,
        sdk_server,
        "ingest",
        tmp_path,
        {
            "subject": subject,
            "single": single,
            "batch": [first[k].wire() for k in ("ing-2", "ing-3", "ing-2b")],
            "json_list": [first[k].wire() for k in ("ing-4", "ing-5")],
            "json_one": first["ing-6"].wire(),
            "resent": resent,
            "twice": first["ing-7"].wire(),
            "plain_dict": lost.wire(),
            "meters": [m.wire() for m in meters],
            "from": iso(start),
            "to": iso(end),
        },
    )
    calls = out["calls"]
    for name in (
        "ingest_event",
        "ingest_events",
        "ingest_events_json_list",
        "ingest_events_json_model",
        "resend_event",
        "resend_events",
        "resend_events_json",
        "twice_in_one_batch",
    ):
        assert ok(calls[name]) is None, name
    # The plain dict went out as an empty body; the server must refuse it.
    model = failed(calls["plain_dict"], "HttpResponseError", 400)
    assert problem_fields(model) == {"body"}

    stored = list(first.values())
    for m in meters:
        got = observed(out["totals"][m.slug]["data"])
        assert got == as_floats(expected_rows(m, stored, window)), m.slug
    assert out["totals"]["ingest_count"]["data"][0]["value"] == 8
    assert out["totals"]["ingest_sum"]["data"][0]["value"] == 74.5

    listed = out["listed"]
    assert sorted((e["source"], e["id"]) for e in listed) == sorted(
        (e.source, e.id) for e in stored
    )
    assert [e["time"] for e in listed] == [
        iso(e.time) for e in sorted(stored, key=lambda e: e.time, reverse=True)
    ]
    by_key = {(e["source"], e["id"]): e for e in listed}
    for e in stored:
        seen = by_key[(e.source, e.id)]
        assert seen["data"] == e.data, "a re-sent copy replaced the first one"
        assert datetime.fromisoformat(seen["rawTime"]) == e.time
    assert by_key[(src, "ing-1")]["rawTime"] == "2024-05-01T10:00:00.123456Z"
    assert by_key[(src, "ing-6")]["rawTime"] == "2024-05-01T10:00:05.000123Z"
    # Only the event without tokens cannot be summed.
    flagged = {k[1] for k, e in by_key.items() if e["validationError"]}
    assert flagged == {"ing-5"}
    assert "ingest_sum" in by_key[(src, "ing-5")]["validationError"]


# --------------------------------------------------------------------------
# 2. Meters

AGGREGATIONS = ["SUM", "COUNT", "UNIQUE_COUNT", "AVG", "MIN", "MAX", "LATEST", "FIRST"]


def _crud_meter(aggregation: str, slug: str, as_dict: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "slug": slug,
        "name": f"CRUD {aggregation}",
        "description": f"{aggregation} over sdk_crud",
        "metadata": {"team": "metering", "agg": aggregation.lower()},
        "aggregation": aggregation,
        "eventType": "sdk_crud",
        "groupBy": {"region": "$.region", "tier": "$.plan.tier"},
        "eventFrom": "2024-02-01T00:00:00+00:00",
    }
    if aggregation == "UNIQUE_COUNT":
        spec["valueProperty"] = "$.user"
    elif aggregation != "COUNT":
        spec["valueProperty"] = "$.value"
    if as_dict:
        spec["as_dict"] = True
    return spec


def test_meter_definitions_lifecycle(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    specs = [_crud_meter(a, f"crud_{a.lower()}") for a in AGGREGATIONS]
    # FIRST is not in the SDK's MeterAggregation enum; a plain dict body
    # must work as well as the model (which passes unknown strings through).
    specs.append(_crud_meter("FIRST", "crud_first_dict", as_dict=True))
    invalid = {
        "count_with_value": {
            "slug": "bad_count",
            "aggregation": "COUNT",
            "event_type": "sdk_crud",
            "value_property": "$.value",
        },
        "bad_slug": {
            "slug": "Bad Slug!",
            "aggregation": "SUM",
            "event_type": "sdk_crud",
            "value_property": "$.value",
        },
        "sum_without_value": {"slug": "bad_sum", "aggregation": "SUM", "event_type": "sdk_crud"},
        "unknown_aggregation": {
            "slug": "bad_agg",
            "aggregation": "MEDIAN",
            "event_type": "sdk_crud",
            "value_property": "$.value",
        },
        "reserved_group_by": {
            "slug": "bad_group",
            "aggregation": "COUNT",
            "event_type": "sdk_crud",
            "group_by": {"subject": "$.who"},
        },
    }
    update = {
        "slug": "crud_sum",
        "name": "Renamed sum",
        "description": "after the update",
        "metadata": {"team": "billing"},
        "groupBy": {"region": "$.region", "tier": "$.plan.tier", "zone": "$.zone"},
    }
    out = run(
        openmeter_python,
        sdk_server,
        "meters",
        tmp_path,
        {
            "meters": specs,
            "update": update,
            "delete": "crud_max",
            "duplicate": _crud_meter("COUNT", "crud_sum"),
            "invalid": invalid,
        },
    )

    ids = set()
    for spec in specs:
        made = out["created"][spec["slug"]]
        for attr in ("slug", "name", "description", "metadata", "aggregation", "eventType"):
            assert made[attr] == spec[attr], (spec["slug"], attr)
        assert made["valueProperty"] == spec.get("valueProperty")
        assert made["groupBy"] == spec["groupBy"]
        assert made["eventFrom"] == spec["eventFrom"]
        assert made["id"] and made["createdAt"] and made["deletedAt"] is None
        assert made["createdAt"] == made["updatedAt"]
        assert out["by_id"][spec["slug"]] == made
        assert out["by_slug"][spec["slug"]] == made
        ids.add(made["id"])
    assert len(ids) == len(specs)

    listed = {m["slug"]: m for m in out["listed"]}
    for spec in specs:
        assert listed[spec["slug"]] == out["created"][spec["slug"]]
    ours = [s for s in out["listed_by_key"] if s.startswith("crud_")]
    assert ours == sorted((s["slug"] for s in specs), reverse=True)

    before = out["created"]["crud_sum"]
    after = out["updated"]
    assert after["name"] == update["name"]
    assert after["description"] == update["description"]
    assert after["metadata"] == update["metadata"]
    assert after["groupBy"] == update["groupBy"]
    for attr in ("id", "slug", "aggregation", "eventType", "valueProperty", "eventFrom"):
        assert after[attr] == before[attr], attr
    assert after["createdAt"] == before["createdAt"]
    assert datetime.fromisoformat(after["updatedAt"]) > datetime.fromisoformat(before["updatedAt"])
    assert out["after_update"] == after

    assert ok(out["delete"]) is None
    failed(out["get_deleted"], "ResourceNotFoundError", 404)
    failed(out["delete_again"], "ResourceNotFoundError", 404)
    assert "crud_max" not in out["listed_after_delete"]
    assert set(out["listed_after_delete"]) >= {s["slug"] for s in specs} - {"crud_max"}
    deleted = [m for m in out["listed_with_deleted"] if m["slug"] == "crud_max"]
    assert len(deleted) == 1
    assert deleted[0]["deletedAt"] is not None

    failed(out["duplicate"], "ResourceExistsError", 409)
    wanted = {
        "count_with_value": {"valueProperty"},
        "bad_slug": {"slug"},
        "sum_without_value": {"valueProperty"},
        "unknown_aggregation": {"aggregation"},
        "reserved_group_by": {"groupBy.subject"},
    }
    for name, fields in wanted.items():
        model = failed(out["invalid"][name], "HttpResponseError", 400)
        assert problem_fields(model) == fields, name
        assert model is not None
        for attr in fields:
            assert attr in model["detail"], (name, model["detail"])


# --------------------------------------------------------------------------
# 3. Queries

USAGE = "sdk_usage"
SUBJECTS = ("q-alice", "q-bob", "q-carol")
MODELS = ("gpt-4o", "gpt-4", "claude")
TIERS = ("free", "pro")
CUSTOMER_SUBJECTS = ("q-alice", "q-bob")
# Numbers and numeric strings: every aggregation can use these.
TOKENS: tuple[Any, ...] = (3, 1.25, "2.5", 10, 0.5, 7, 4.75, 12, 6, "8")
ABSENT = object()
# Values no numeric aggregation may use; ABSENT drops the key altogether.
UNUSABLE: tuple[Any, ...] = (ABSENT, None, "abc", True, {"n": 1}, [])
EVENT_FROM = at("2024-01-01T00:00:00")
# Both ends of the half-open check are events of their own.
OPEN_FROM = at("2024-03-30T23:00:00")
OPEN_TO = at("2024-03-31T22:00:00")

# Query ranges [from, to), each on window edges in the zone it is used with.
YEAR = (EVENT_FROM, at("2025-01-01T00:00:00"))
SPRING_UTC = (at("2024-03-30T00:00:00"), at("2024-04-02T00:00:00"))
SPRING_BUDAPEST = (at("2024-03-29T23:00:00"), at("2024-04-01T22:00:00"))
FALL_NEW_YORK = (at("2024-11-02T04:00:00"), at("2024-11-05T05:00:00"))


def usage_events() -> list[Ev]:
    events: list[Ev] = []
    counter = 0

    def generated(t: datetime) -> None:
        nonlocal counter
        i = counter
        counter += 1
        t = t + timedelta(seconds=(i * 7) % 50, microseconds=i)
        subject = SUBJECTS[(i // 3) % 3]
        data: dict[str, Any] = {
            "model": MODELS[i % 3],
            "plan": {"tier": TIERS[(i // 9) % 2]},
            "user": f"u{(i * 3) % 5}",
            "tokens": TOKENS[(i * 7) % len(TOKENS)],
        }
        events.append(Ev(f"u-{i}", USAGE, subject, t, data))
        if i % 4 == 1:
            # An unusable twin half a second later, same subject and groups:
            # it shares every window with a usable event, so no asserted row
            # is made of unusable values alone.
            bad = dict(data)
            value = UNUSABLE[(i // 4) % len(UNUSABLE)]
            if value is ABSENT:
                del bad["tokens"]
            else:
                bad["tokens"] = value
            events.append(Ev(f"u-{i}-bad", USAGE, subject, t + timedelta(seconds=0.5), bad))

    # Spread over the year (MONTH windows); the first lands exactly on eventFrom.
    for k in range(56):
        generated(EVENT_FROM + k * timedelta(days=5, hours=3, minutes=7))
    # Around Europe/Budapest's spring-forward (2024-03-31 01:00 UTC).
    for k in range(64):
        generated(SPRING_UTC[0] + k * timedelta(minutes=67))
    # Around America/New_York's fall-back (2024-11-03 06:00 UTC).
    for k in range(78):
        generated(at("2024-11-02T00:00:00") + k * timedelta(minutes=71))

    def explicit(name: str, t: datetime, subject: str, model: str, tokens: Any) -> None:
        data = {"model": model, "plan": {"tier": "pro"}, "user": "u9", "tokens": tokens}
        events.append(Ev(f"x-{name}", USAGE, subject, t, data))

    # Instants on and next to window edges.
    explicit("bud-eod", at("2024-03-30T22:59:59.999999"), "q-alice", "gpt-4o", 1.5)
    explicit("open-from", OPEN_FROM, "q-bob", "gpt-4o", 10.5)
    explicit("bud-jump-1", at("2024-03-31T00:59:59"), "q-carol", "claude", 2)
    explicit("bud-jump", at("2024-03-31T01:00:00"), "q-alice", "gpt-4", 4)
    explicit("bud-last", at("2024-03-31T21:59:59.5"), "q-bob", "claude", 9)
    explicit("open-to", OPEN_TO, "q-alice", "gpt-4o", 20.25)
    explicit("ny-eod", at("2024-11-03T03:59:59"), "q-bob", "gpt-4o", 3.5)
    explicit("ny-sod", at("2024-11-03T04:00:00"), "q-carol", "gpt-4", 5.5)
    explicit("ny-0130-edt", at("2024-11-03T05:30:00"), "q-alice", "claude", 6.5)
    explicit("ny-0130-est", at("2024-11-03T06:30:00"), "q-alice", "claude", 7.5)
    explicit("ny-last", at("2024-11-04T04:59:59"), "q-bob", "gpt-4", 8.5)
    explicit("ny-next", at("2024-11-04T05:00:00"), "q-carol", "gpt-4o", 11.5)
    # A burst for MINUTE windows.
    explicit("m1", at("2024-03-30T12:00:00.1"), "q-alice", "gpt-4o", 1)
    explicit("m2", at("2024-03-30T12:00:30.2"), "q-bob", "gpt-4o", 2)
    explicit("m3", at("2024-03-30T12:00:59.999999"), "q-alice", "gpt-4", 4)
    explicit("m4", at("2024-03-30T12:01:00"), "q-alice", "gpt-4o", 8)
    explicit("m5", at("2024-03-30T12:02:15.3"), "q-carol", "claude", 16)
    # Before every meter's eventFrom: never counted.
    explicit("early", at("2023-12-31T23:59:59"), "q-alice", "gpt-4o", 1000)
    # Another event type on the same subjects: not these meters' events.
    events.append(Ev("o-1", "sdk_other", "q-alice", at("2024-03-30T12:00:10"), {"tokens": 500}))
    return events


def usage_meters() -> dict[str, MeterSpec]:
    group_by = {"model": "$.model", "tier": "$.plan.tier"}
    out = {}
    for agg in AGGREGATIONS:
        prop = None if agg == "COUNT" else "$.user" if agg == "UNIQUE_COUNT" else "$.tokens"
        out[agg] = MeterSpec(f"usage_{agg.lower()}", agg, USAGE, prop, group_by, EVENT_FROM)
    return out


def span(bounds: tuple[datetime, datetime], **kw: Any) -> QuerySpec:
    return QuerySpec(start=bounds[0], end=bounds[1], **kw)


def query_kwargs(q: QuerySpec, zone: bool | None = None) -> dict[str, Any]:
    """The SDK arguments asking for what ``q`` describes, filters aside.

    The zone is sent when it is not UTC, so UTC queries also cover the default.
    """
    kw: dict[str, Any] = {}
    if q.start is not None:
        kw["from_parameter"] = iso(q.start)
    if q.end is not None:
        kw["to"] = iso(q.end)
    if q.window is not None:
        kw["window_size"] = q.window
    if zone or (zone is None and q.zone != "UTC"):
        kw["window_time_zone"] = q.zone
    if q.subjects:
        kw["subject"] = list(q.subjects)
    if q.group_by:
        kw["group_by"] = list(q.group_by)
    return kw


@dataclass
class Plan:
    """Named SDK calls for ``scripts/queries.py`` and what each JSON answer must be."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, tuple[MeterSpec, QuerySpec]] = field(default_factory=dict)

    def call(self, name: str, op: str, meter: MeterSpec, **more: Any) -> None:
        self.steps.append({"name": name, "op": op, "meter": meter.slug, **more})

    def json(
        self, name: str, meter: MeterSpec, q: QuerySpec, zone: bool | None = None, **filters: Any
    ) -> None:
        self.call(name, "query_json", meter, kwargs={**query_kwargs(q, zone), **filters})
        self.checks[name] = (meter, q)


def usage_plan(meters: dict[str, MeterSpec]) -> Plan:
    plan = Plan()
    to_customer = dict.fromkeys(CUSTOMER_SUBJECTS, "$customer")
    for agg, m in meters.items():
        plan.json(f"{agg}:total", m, span(YEAR))
        plan.json(f"{agg}:day-utc", m, span(SPRING_UTC, window="DAY"), zone=True)
        plan.json(
            f"{agg}:day-budapest", m, span(SPRING_BUDAPEST, window="DAY", zone="Europe/Budapest")
        )
        plan.json(
            f"{agg}:day-new-york", m, span(FALL_NEW_YORK, window="DAY", zone="America/New_York")
        )
        plan.json(f"{agg}:by-groups", m, span(YEAR, group_by=("model", "tier")))
        plan.json(
            f"{agg}:subjects",
            m,
            span(SPRING_BUDAPEST, window="DAY", zone="Europe/Budapest", subjects=CUSTOMER_SUBJECTS),
        )
        plan.json(f"{agg}:month", m, span(YEAR, window="MONTH"))

    total = meters["SUM"]
    plan.json("hour-utc", total, span(SPRING_UTC, window="HOUR", group_by=("model",)))
    # +05:45 all year round: its hours start at :15 UTC.
    kathmandu = (at("2024-03-30T00:15:00"), at("2024-03-31T00:15:00"))
    plan.json("hour-kathmandu", total, span(kathmandu, window="HOUR", zone="Asia/Kathmandu"))
    burst = (at("2024-03-30T12:00:00"), at("2024-03-30T12:05:00"))
    plan.json("minute", total, span(burst, window="MINUTE", group_by=("subject", "model")))
    budapest_year = (at("2023-12-31T23:00:00"), at("2024-12-31T23:00:00"))
    plan.json("month-budapest", total, span(budapest_year, window="MONTH", zone="Europe/Budapest"))
    # The SDK sends this dict as its Python repr: {'model': 'gpt-4o'}.
    plan.json(
        "filter-repr",
        total,
        span(
            SPRING_BUDAPEST,
            window="DAY",
            zone="Europe/Budapest",
            group_by=("subject",),
            only={"model": frozenset({"gpt-4o"})},
        ),
        filter_group_by={"model": "gpt-4o"},
    )
    plan.json(
        "filter-advanced",
        total,
        span(YEAR, group_by=("model",), only={"model": frozenset({"gpt-4o", "claude"})}),
        advanced_meter_group_by_filters={"model": {"$in": ["gpt-4o", "claude"]}},
    )
    for agg in ("SUM", "COUNT"):
        plan.json(
            f"{agg}:customer",
            meters[agg],
            span(YEAR, group_by=("customer_id",), customers=to_customer),
            filter_customer_id=["$customer"],
        )
    plan.json(
        "customer-days",
        total,
        span(
            FALL_NEW_YORK,
            window="DAY",
            zone="America/New_York",
            group_by=("customer_id", "model"),
            customers=to_customer,
        ),
        filter_customer_id=["$customer"],
    )
    plan.json("half-open", total, span((OPEN_FROM, OPEN_TO)))

    # The POST form, its filters in a MeterQueryRequest body.
    post = span(
        FALL_NEW_YORK,
        window="DAY",
        zone="America/New_York",
        subjects=("q-alice", "q-carol"),
        group_by=("model",),
        only={"model": frozenset({"gpt-4o", "gpt-4"})},
    )
    plan.call(
        "post",
        "query",
        total,
        kwargs={
            "from_property": iso(FALL_NEW_YORK[0]),
            "to": iso(FALL_NEW_YORK[1]),
            "window_size": "DAY",
            "window_time_zone": "America/New_York",
            "subject": ["q-alice", "q-carol"],
            "group_by": ["model"],
            "filter_group_by": {"model": ["gpt-4o", "gpt-4"]},
        },
    )
    plan.checks["post"] = (total, post)
    plan.call("no-range", "query_json", total)
    plan.call("csv", "query_csv", total, kwargs=query_kwargs(csv_query()))
    plan.call("csv-post", "query_csv_post", total)
    plan.call("subjects", "list_subjects", total)
    plan.call(
        "subjects-hour",
        "list_subjects",
        total,
        kwargs={
            "from_parameter": iso(at("2024-03-31T12:00:00")),
            "to": iso(at("2024-03-31T13:00:00")),
        },
    )
    plan.call("models", "list_group_by_values", total, key="model")
    plan.call(
        "tiers-november",
        "list_group_by_values",
        total,
        key="tier",
        kwargs={
            "from_parameter": iso(at("2024-11-01T00:00:00")),
            "to": iso(at("2024-12-01T00:00:00")),
        },
    )
    return plan


def csv_query() -> QuerySpec:
    return span(
        SPRING_BUDAPEST,
        window="DAY",
        zone="Europe/Budapest",
        subjects=CUSTOMER_SUBJECTS,
        group_by=("model",),
    )


def csv_rows(text: str) -> tuple[list[str], dict[Any, Decimal]]:
    """Header and rows keyed like ``expected_rows``; values as exact decimals."""
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or [])
    rows: dict[Any, Decimal] = {}
    for r in reader:
        key = (
            datetime.fromisoformat(r["window_start"]).astimezone(UTC).isoformat(),
            datetime.fromisoformat(r["window_end"]).astimezone(UTC).isoformat(),
            r.get("subject"),
            None,
            tuple((k, r[k]) for k in ("model",) if k in header),
        )
        assert key not in rows, f"duplicate CSV row {key}"
        rows[key] = Decimal(r["value"])
    return header, rows


def test_meter_queries_match_independent_computation(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    events = usage_events()
    assert len({e.time for e in events}) == len(events), "FIRST/LATEST need distinct instants"
    meters = usage_meters()
    total = meters["SUM"]
    plan = usage_plan(meters)
    out = run(
        openmeter_python,
        sdk_server,
        "queries",
        tmp_path,
        {
            "meters": [m.wire() for m in meters.values()],
            "customer": {
                "name": "Query Co",
                "key": "q-customer",
                "subjectKeys": list(CUSTOMER_SUBJECTS),
            },
            "events": [e.wire() for e in events],
            "plan": plan.steps,
        },
    )
    customer_id = out["customer"]
    results = {name: ok(outcome) for name, outcome in out["results"].items()}

    for name, (meter, q) in plan.checks.items():
        result = results[name]
        want = {
            (k[0], k[1], k[2], customer_id if k[3] else None, k[4]): v
            for k, v in expected_rows(meter, events, q).items()
        }
        assert want, f"{name}: the data must give this query rows"
        assert observed(result["data"]) == as_floats(want), name
        assert result["windowSize"] == q.window, name
        assert q.start is not None and q.end is not None
        assert result["to"] == iso(q.end), name
        if q.start >= EVENT_FROM:
            # (A range opening before eventFrom may come back clamped.)
            assert result["from"] == iso(q.start), name

    # The DST days themselves, spelled out.
    budapest = {(r["windowStart"], r["windowEnd"]) for r in results["SUM:day-budapest"]["data"]}
    assert ("2024-03-30T23:00:00+00:00", "2024-03-31T22:00:00+00:00") in budapest  # 23 h
    new_york = {(r["windowStart"], r["windowEnd"]) for r in results["SUM:day-new-york"]["data"]}
    assert ("2024-11-03T04:00:00+00:00", "2024-11-04T05:00:00+00:00") in new_york  # 25 h
    for name in ("SUM:customer", "COUNT:customer", "customer-days"):
        assert {r["customerId"] for r in results[name]["data"]} == {customer_id}

    # Half-open: the event at `from` counts, the one at `to` does not; the two
    # carry distinct tokens, so any other reading would give another sum.
    def between(with_from: bool, with_to: bool) -> float:
        picked = [
            n
            for e in events
            if e.type == USAGE
            and (e.time >= OPEN_FROM if with_from else e.time > OPEN_FROM)
            and (e.time <= OPEN_TO if with_to else e.time < OPEN_TO)
            and (n := number(lookup(e.data, "$.tokens"))) is not None
        ]
        return float(sum(picked, Decimal(0)))

    (half_open,) = results["half-open"]["data"]
    assert half_open["value"] == between(True, False)
    assert half_open["value"] not in {between(True, True), between(False, False)}

    # With neither from nor to, only eventFrom bounds the range: the 2023
    # event stays out.
    (everything,) = expected_rows(total, events, span((EVENT_FROM, at("2030-01-01")))).values()
    assert [r["value"] for r in results["no-range"]["data"]] == [float(everything)]

    header, rows = csv_rows(results["csv"])
    assert header[:2] == ["window_start", "window_end"] and header[-1] == "value"
    assert {"subject", "model"} <= set(header)
    # CSV carries the decimal text itself, so it is compared exactly.
    assert rows == expected_rows(total, events, csv_query())
    header, rows = csv_rows(results["csv-post"])
    assert header[:2] == ["window_start", "window_end"] and header[-1] == "value"
    assert list(rows.values()) == [everything]

    usage = [e for e in events if e.type == USAGE and e.time >= EVENT_FROM]

    def distinct(values: list[str]) -> list[str]:
        assert len(values) == len(set(values)), values
        return sorted(values)

    assert distinct(results["subjects"]) == sorted(SUBJECTS)
    hour = [e for e in usage if at("2024-03-31T12:00:00") <= e.time < at("2024-03-31T13:00:00")]
    assert distinct(results["subjects-hour"]) == sorted({e.subject for e in hour})
    assert len(results["subjects-hour"]) < len(SUBJECTS), "the range must narrow the answer"
    assert distinct(results["models"]) == sorted(MODELS)
    november = [e for e in usage if e.time.month == 11]
    tiers = {lookup(e.data, "$.plan.tier") for e in november}
    assert distinct(results["tiers-november"]) == sorted(tiers)


# --------------------------------------------------------------------------
# 4. Subjects


def test_subjects_upsert_get_list_delete(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    full = {
        "key": "sdk-subject/one",
        "displayName": "Subject One",
        "metadata": {"tier": "gold"},
        "currentPeriodStart": "2024-06-01T00:00:00+00:00",
        "currentPeriodEnd": "2024-07-01T00:00:00+00:00",
        "stripeCustomerId": "cus_sdk_1",
    }
    bare = {"key": "sdk-subject two+"}
    out = run(
        openmeter_python,
        sdk_server,
        "subjects",
        tmp_path,
        {"full": full, "bare": bare, "renamed": "Subject One, renamed"},
    )
    one, two = out["upserted"]
    for attr, value in full.items():
        assert one[attr] == value, attr
    assert two["key"] == bare["key"] and two["displayName"] is None
    assert one["id"] and two["id"] and one["id"] != two["id"]

    (again,) = out["again"]
    assert again["id"] == one["id"], "an upsert of a known key must update it, not add one"
    assert again["displayName"] == "Subject One, renamed"
    assert out["by_key"] == again
    assert out["by_id"] == again

    listed = {s["key"]: s for s in out["listed"]}
    assert listed[full["key"]] == again
    assert listed[bare["key"]]["id"] == two["id"]
    assert [s["key"] for s in out["listed"]].count(full["key"]) == 1

    assert ok(out["delete"]) is None
    failed(out["get_deleted"], "ResourceNotFoundError", 404)
    assert bare["key"] not in out["listed_after"]
    assert full["key"] in out["listed_after"]


# --------------------------------------------------------------------------
# 5. Customers


def test_customers_crud_paging_and_attribution(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    # The key exercises the SDK's percent-encoded path segment: / + and space.
    main = {
        "key": "acme/west+1 blue",
        "name": "ACME West",
        "primaryEmail": "billing+west@acme.test",
        "currency": "USD",
        "metadata": {"crm": "42"},
        "subjectKeys": ["c-acme-1", "c-acme-2"],
        "billingAddress": {"country": "US", "city": "New York"},
    }
    others = [
        {"key": "gamma", "name": "Gamma", "subjectKeys": ["c-gamma"]},
        {"key": "beta", "name": "Beta", "subjectKeys": ["c-beta"]},
        {"key": "delta co", "name": "Delta", "subjectKeys": ["c-delta"]},
    ]
    update = {
        **main,
        "name": "ACME West Coast",
        "currency": "EUR",
        "metadata": {"crm": "43"},
        "subjectKeys": ["c-acme-1", "c-acme-3"],
    }
    out = run(
        openmeter_python,
        sdk_server,
        "customers",
        tmp_path,
        {
            "customers": [main, *others],
            "update": update,
            # c-acme-1 stays with ACME through the update.
            "claim": {"key": "epsilon", "name": "Epsilon", "subjectKeys": ["c-acme-1"]},
            "steal": {"key": "beta", "name": "Beta", "subjectKeys": ["c-beta", "c-acme-3"]},
        },
        token=sdk_server.customers_admin,
    )

    def same(view: dict[str, Any], spec: dict[str, Any]) -> None:
        for attr in ("key", "name", "primaryEmail", "currency", "metadata", "subjectKeys"):
            assert view[attr] == spec.get(attr), attr
        assert view["billingAddress"] == spec.get("billingAddress")

    created = out["created"]
    for view, spec in zip(created, [main, *others], strict=True):
        same(view, spec)
        assert view["id"] and view["createdAt"] and view["deletedAt"] is None
    assert len({v["id"] for v in created}) == 4
    assert out["by_id"] == created[0]
    assert out["by_key"] == created[0]

    names = sorted(s["name"] for s in [main, *others])
    pages = out["pages"]
    assert [(p["total_count"], p["page"], p["page_size"]) for p in pages] == [
        (4, 1, 2),
        (4, 2, 2),
        (4, 3, 2),
    ]
    assert [[c["name"] for c in p["items"]] for p in pages] == [names[:2], names[2:], []]

    assert out["by_key_filter"]["total_count"] == 1
    assert [c["id"] for c in out["by_key_filter"]["items"]] == [created[0]["id"]]

    same(out["updated"], update)
    assert out["updated"]["id"] == created[0]["id"]
    assert out["after_update"] == out["updated"]
    assert [c["id"] for c in out["by_subject"]["items"]] == [created[0]["id"]]

    # A subject key already attributed to a live customer cannot be claimed.
    failed(out["claim_on_create"], "ResourceExistsError", 409)
    failed(out["claim_on_update"], "ResourceExistsError", 409)

    assert ok(out["delete"]) is None
    failed(out["get_deleted_by_key"], "ResourceNotFoundError", 404)
    failed(out["get_deleted_by_id"], "ResourceNotFoundError", 404)
    after = out["after_delete"]
    assert after["total_count"] == 3
    assert sorted(c["key"] for c in after["items"]) == ["beta", "delta co", "gamma"]
    # Deleting the customer releases its subject keys.
    assert ok(out["claim_after_delete"])["subjectKeys"] == ["c-acme-1"]


# --------------------------------------------------------------------------
# 6. Event listings


def test_event_listings_and_cursor_pages(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    subject, kind = "list-subj", "sdk_list"
    base = at("2024-06-01T00:00:00")

    def ev(i: int, data: dict[str, Any] | None, subject: str = subject, kind: str = kind) -> Ev:
        t = base + timedelta(seconds=i, microseconds=i * 1111)
        return Ev(f"list-{i}", kind, subject, t, data)

    events = [
        ev(0, {"n": 1}),
        ev(1, {"n": 2}),
        ev(2, {"other": 3}),  # no value property
        ev(3, {"n": "lots"}),  # not a number
        ev(4, {"n": 5}),
        ev(5, {"n": "6.5"}),
        ev(6, {"n": 7}),
        ev(7, {"n": 8}, kind="sdk_list_unmetered"),  # no meter reads this type
        ev(8, {"n": 9}, subject="list-other"),
        ev(9, {"n": 10}, subject="list-other"),
    ]
    start, end = events[2].time, events[6].time
    out = run(
        openmeter_python,
        sdk_server,
        "events",
        tmp_path,
        {
            "meter": {
                "slug": "list_sum",
                "aggregation": "SUM",
                "eventType": kind,
                "valueProperty": "$.n",
            },
            "events": [e.wire() for e in events],
            "subject": subject,
            "from": iso(start),
            "to": iso(end),
        },
    )
    mine = sorted((e for e in events if e.subject == subject), key=lambda e: e.time, reverse=True)
    in_range = [e for e in mine if start <= e.time < end]

    def ids(items: list[dict[str, Any]]) -> list[str]:
        return [i["id"] for i in items]

    assert ids(out["all"]) == [e.id for e in mine]
    assert ids(out["range"]) == [e.id for e in in_range]
    assert ids(out["limited"]) == [e.id for e in in_range[:2]]
    by_id = {i["id"]: i for i in out["all"]}
    for e in mine:
        item = by_id[e.id]
        assert (item["type"], item["subject"], item["data"]) == (e.type, e.subject, e.data)
        assert item["time"] == iso(e.time)
        assert item["ingestedAt"]
    flagged = {i for i, item in by_id.items() if item["validationError"]}
    assert flagged == {"list-2", "list-3", "list-7"}
    assert "list_sum" in by_id["list-2"]["validationError"]
    assert "list_sum" in by_id["list-3"]["validationError"]

    # The SDK follows nextCursor itself: all events, each once, in pages of 2.
    assert ids(out["v2_items"]) == [e.id for e in mine]
    pages = [p for p in out["v2_pages"] if p]
    assert [len(p) for p in pages] == [2, 2, 2, 2]
    assert [i for p in pages for i in p] == [e.id for e in mine]
    assert ids(out["v2_range"]) == [e.id for e in in_range]
    assert {i["id"]: i["validationError"] for i in out["v2_items"]} == {
        i: by_id[i]["validationError"] for i in by_id
    }


# --------------------------------------------------------------------------
# 7. Async client


def test_async_client_matches_sync_client(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    kind = "sdk_parity"
    meter = MeterSpec("parity_sum", "SUM", kind, "$.tokens", {"model": "$.model"})
    models = ("gpt-4o", "gpt-4", "claude")

    def events(subject: str, prefix: str) -> list[Ev]:
        out = []
        for i in range(12):
            t = at("2024-03-30T20:00:00.25") + i * timedelta(minutes=37, seconds=11)
            model = models[i % 3]
            out.append(Ev(f"{prefix}-{i}", kind, subject, t, {"model": model, "tokens": i * 1.25}))
            if i % 4 == 2:
                # Unusable, and in the same hour and group as the event before.
                bad = {"model": model, "tokens": "n/a"}
                out.append(Ev(f"{prefix}-{i}-bad", kind, subject, t + timedelta(seconds=1), bad))
        return out

    lo, hi = at("2024-03-30T00:00:00"), at("2024-04-02T00:00:00")
    window = {"from_parameter": iso(lo), "to": iso(hi)}
    queries = [
        {**window, "window_size": "DAY", "window_time_zone": "Europe/Budapest"},
        {**window, "window_size": "HOUR", "group_by": ["model"]},
        {**window, "filter_group_by": {"model": "gpt-4o"}},
        {**window, "advanced_meter_group_by_filters": {"model": {"$in": ["gpt-4", "claude"]}}},
    ]
    specs = [
        QuerySpec(lo, hi, "DAY", "Europe/Budapest"),
        QuerySpec(lo, hi, "HOUR", group_by=("model",)),
        QuerySpec(lo, hi, only={"model": frozenset({"gpt-4o"})}),
        QuerySpec(lo, hi, only={"model": frozenset({"gpt-4", "claude"})}),
    ]
    sync_events, async_events = events("par-sync", "ps"), events("par-async", "pa")
    out = run(
        openmeter_python,
        sdk_server,
        "async_parity",
        tmp_path,
        {
            "meter": meter.wire(),
            "sync_events": [e.wire() for e in sync_events],
            "async_events": [e.wire() for e in async_events],
            "sync_subject": "par-sync",
            "async_subject": "par-async",
            "queries": queries,
        },
    )
    assert out["async"]["meter"] == meter.slug
    for i, (q, s, a) in enumerate(
        zip(specs, out["sync"]["results"], out["async"]["results"], strict=True)
    ):
        for subject, got, evs in (("par-sync", s, sync_events), ("par-async", a, async_events)):
            spec = QuerySpec(q.start, q.end, q.window, q.zone, (subject,), q.group_by, q.only)
            assert observed(got["data"]) == as_floats(expected_rows(meter, evs, spec)), (i, subject)
            assert got["data"], i
        renamed = [{**row, "subject": "par-sync"} for row in a["data"]]
        assert {**a, "data": renamed} == s, i

    def shape(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(i["id"][3:], i["time"], i["data"], i["validationError"] is None) for i in items]

    assert shape(out["async"]["listed"]) == shape(out["sync"]["listed"])
    assert sorted(i["id"] for i in out["sync"]["listed"]) == sorted(e.id for e in sync_events)


# --------------------------------------------------------------------------
# 8. Authentication and tenancy


def test_auth_scopes_and_namespaces(
    openmeter_python: Path, sdk_server: SdkServer, tmp_path: Path
) -> None:
    kind = "sdk_auth"
    meter = MeterSpec("auth_sum", "SUM", kind, "$.n")
    events = [
        Ev(
            f"auth-{i}",
            kind,
            "auth-subj",
            at("2024-07-01T00:00:00") + timedelta(minutes=i),
            {"n": i + 1},
        )
        for i in range(4)
    ]
    extra = Ev("auth-extra", kind, "auth-subj", at("2024-07-01T00:30:00"), {"n": 100})
    start, end = at("2024-07-01T00:00:00"), at("2024-07-02T00:00:00")
    out = run(
        openmeter_python,
        sdk_server,
        "auth",
        tmp_path,
        {
            "meter": meter.wire(),
            "events": [e.wire() for e in events],
            "extra": extra.wire(),
            "from": iso(start),
            "to": iso(end),
        },
        OM_READ=sdk_server.reader,
        OM_OTHER=sdk_server.stranger,
    )
    expected = as_floats(expected_rows(meter, events, QuerySpec(start, end)))

    assert set(out["anonymous"]) == {"list", "ingest", "query"}
    for outcome in out["anonymous"].values():
        failed(outcome, "ClientAuthenticationError", 401)
    failed(out["forged"]["list"], "ClientAuthenticationError", 401)

    reader = out["reader"]
    assert observed(ok(reader["query"])["data"]) == expected
    assert meter.slug in ok(reader["list"])
    for name in ("ingest", "create_meter", "create_customer"):
        failed(reader[name], "HttpResponseError", 403)
    # Neither the anonymous nor the read-only ingest got through.
    assert observed(out["admin_after"]["data"]) == expected

    stranger = out["stranger"]
    assert ok(stranger["list_before"]) == []
    for name in ("get_slug", "get_id", "query"):
        failed(stranger[name], "ResourceNotFoundError", 404)
    assert ok(stranger["events"]) == []
    assert stranger["own_id"] not in out["admin_ids"]
    assert stranger["own_query"]["data"] == []
