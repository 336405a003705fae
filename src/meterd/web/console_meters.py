"""Meters: the query explorer (chart, table, CSV) and the live event tail."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.core.filters import StringFilter
from meterd.core.money import format_decimal
from meterd.core.periods import format_rfc3339
from meterd.domain.events import EventQuery, StoredEvent
from meterd.domain.meters import Meter, MeterRow, QueryMeterInput
from meterd.web.charts import bar_chart
from meterd.web.deps import ConsoleUser, console_user, container
from meterd.web.render import HtmlRoute, page
from meterd.web.usage import RANGES, WINDOWS, parse_range, points

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
TAIL = 50


def _split(raw: str) -> list[str]:
    return [v.strip() for v in raw.split(",") if v.strip()]


@router.get("/console/meters")
def meters(request: Request, user: User) -> Response:
    c = container(request)
    return page(request, "meters.html", meters=c.meters.list_meters(user.namespace))


def _explore(request: Request, user: ConsoleUser, meter: Meter) -> tuple[Any, ...]:
    c = container(request)
    params = request.query_params
    picked = dict(params)
    # "NONE" asks for one total per group over the whole range.
    windowed = picked.get("window") != "NONE"
    if not windowed:
        picked.pop("window")
    rng = parse_range(picked, c.clock.now(), default="7d")
    group_by = [g for g in params.getlist("group_by") if g]
    filters = {
        key: _split(params.get(f"filter_{key}", ""))
        for key in meter.group_by
        if params.get(f"filter_{key}")
    }
    inp = QueryMeterInput(
        start=rng.start,
        end=rng.end,
        window_size=rng.window.value if windowed else None,
        group_by=group_by,
        subjects=_split(params.get("subject", "")),
        customer_ids=_split(params.get("customer", "")),
        filter_group_by=filters,
    )
    _, rows = c.meters.query(user.namespace, meter.id, inp)
    return rng, windowed, group_by, filters, inp, rows


def _columns(meter: Meter, group_by: list[str], inp: QueryMeterInput) -> list[str]:
    cols = []
    if inp.subjects or "subject" in group_by:
        cols.append("subject")
    if inp.customer_ids:
        cols.append("customer_id")
    cols.extend(g for g in group_by if g in meter.group_by)
    return cols


def _csv(meter: Meter, rows: list[MeterRow], cols: list[str]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["window_start", "window_end", *cols, "value"])
    for r in rows:
        cells: list[str] = []
        for col in cols:
            value = {"subject": r.subject, "customer_id": r.customer_id}.get(
                col, r.group_by.get(col)
            )
            cells.append(value or "")
        writer.writerow(
            [
                format_rfc3339(r.window_start),
                format_rfc3339(r.window_end),
                *cells,
                format_decimal(r.value),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{meter.slug}.csv"'},
    )


@router.get("/console/meters/{meter_ref}")
def meter(request: Request, user: User, meter_ref: str) -> Response:
    c = container(request)
    m = c.meters.get(user.namespace, meter_ref)
    rng, windowed, group_by, filters, inp, rows = _explore(request, user, m)
    cols = _columns(m, group_by, inp)
    if request.query_params.get("format") == "csv":
        return _csv(m, rows, cols)
    chart = (
        bar_chart(points(rows, rng), f"{m.slug} per {rng.window.value.lower()}")
        if windowed
        else None
    )
    csv_link = request.url.include_query_params(format="csv")
    return page(
        request,
        "meter.html",
        meter=m,
        rng=rng,
        ranges=RANGES,
        windows=[*WINDOWS, "NONE"],
        windowed=windowed,
        group_by=group_by,
        filters={k: ", ".join(v) for k, v in filters.items()},
        subject=request.query_params.get("subject", ""),
        customer=request.query_params.get("customer", ""),
        rows=rows,
        cols=cols,
        chart=chart,
        csv_url=f"{csv_link.path}?{csv_link.query}",
    )


def _tail(
    request: Request, user: ConsoleUser, meter_ref: str
) -> tuple[Meter | None, list[StoredEvent]]:
    c = container(request)
    m = c.meters.get(user.namespace, meter_ref) if meter_ref else None
    filters = {"type": StringFilter(op="$eq", value=m.event_type)} if m else {}
    events = c.events.list_events(EventQuery(namespace=user.namespace, filters=filters, limit=TAIL))
    return m, events


@router.get("/console/events")
def events(request: Request, user: User, meter: str = "") -> Response:
    m, found = _tail(request, user, meter)
    return page(request, "events.html", meter=m, events=found, meter_ref=meter)


@router.get("/console/events/rows")
def event_rows(request: Request, user: User, meter: str = "") -> Response:
    _, found = _tail(request, user, meter)
    return page(request, "_event_rows.html", events=found)
