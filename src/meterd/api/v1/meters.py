"""``/api/v1/meters``: definitions, queries (JSON and CSV), subjects, group-by values."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import (
    boolean,
    json_body,
    json_value,
    many,
    obj,
    one,
    segment,
    string_map,
    timestamp,
)
from meterd.api.responses import JSON, no_content
from meterd.api.v1 import schemas
from meterd.api.v1.wire import to_api_meter, to_api_row
from meterd.core.errors import ValidationError
from meterd.core.money import format_decimal
from meterd.core.periods import format_rfc3339, parse_rfc3339
from meterd.domain.auth import Operation, Principal
from meterd.domain.meters import (
    CreateMeterInput,
    MeterQuery,
    MeterRow,
    QueryMeterInput,
    UpdateMeterInput,
)

router = APIRouter(tags=["Meters"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


def _body_time(body: dict[str, Any], name: str) -> Any:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError.single(
            name, "invalid_time", f"{name} must be an RFC 3339 timestamp"
        ) from None


@router.post("/api/v1/meters", status_code=201, openapi_extra=schemas.body("MeterCreate"))
async def create_meter(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    inp = CreateMeterInput(
        slug=body.get("slug"),
        aggregation=body.get("aggregation"),
        event_type=body.get("eventType"),
        name=body.get("name"),
        description=body.get("description"),
        metadata=body.get("metadata"),
        event_from=_body_time(body, "eventFrom"),
        value_property=body.get("valueProperty"),
        group_by=body.get("groupBy"),
        filter=body.get("filter"),
    )
    return JSON(to_api_meter(c.meters.create(who.namespace, inp)), status_code=201)


@router.get("/api/v1/meters")
def list_meters(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    meters = c.meters.list_meters(who.namespace, boolean(request, "includeDeleted"))
    order_by = one(request, "orderBy") or "createdAt"
    key = {
        "key": lambda m: m.slug,
        "slug": lambda m: m.slug,
        "name": lambda m: m.name,
        "aggregation": lambda m: m.aggregation.value,
        "createdAt": lambda m: m.created_at,
        "updatedAt": lambda m: m.updated_at,
        "eventType": lambda m: m.event_type,
    }.get(order_by)
    if key is None:
        raise ValidationError.single("orderBy", "invalid_enum", f"cannot order by {order_by}")
    meters.sort(key=key, reverse=(one(request, "order") or "ASC").upper() == "DESC")
    return JSON([to_api_meter(m) for m in meters])


@router.get("/api/v1/meters/{meterIdOrSlug}")
def get_meter(meterIdOrSlug: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(to_api_meter(c.meters.get(who.namespace, segment(meterIdOrSlug))))


@router.put("/api/v1/meters/{meterIdOrSlug}", openapi_extra=schemas.body("MeterUpdate"))
async def update_meter(meterIdOrSlug: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    inp = UpdateMeterInput(
        name=body.get("name"),
        description=body.get("description"),
        metadata=body.get("metadata"),
        group_by=body.get("groupBy"),
        filter=body.get("filter"),
        fields_set=frozenset(body),
        fixed={
            k: body[k] for k in ("slug", "aggregation", "eventType", "valueProperty") if k in body
        },
    )
    return JSON(to_api_meter(c.meters.update(who.namespace, segment(meterIdOrSlug), inp)))


@router.delete("/api/v1/meters/{meterIdOrSlug}", status_code=204)
def delete_meter(meterIdOrSlug: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.meters.delete(who.namespace, segment(meterIdOrSlug))
    return no_content()


def query_from_params(request: Request) -> QueryMeterInput:
    """The GET query string of a meter query (shared with the portal query)."""
    return QueryMeterInput(
        start=timestamp(request, "from"),
        end=timestamp(request, "to"),
        window_size=one(request, "windowSize"),
        time_zone=one(request, "windowTimeZone"),
        subjects=many(request, "subject"),
        customer_ids=many(request, "filterCustomerId"),
        group_by=many(request, "groupBy"),
        filter_group_by=string_map(request, "filterGroupBy"),
        advanced_filters=_advanced(json_value(request, "advancedMeterGroupByFilters")),
    )


def _advanced(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError.single(
            "advancedMeterGroupByFilters",
            "invalid_filter",
            "advancedMeterGroupByFilters maps group-by keys to filters",
        )
    return raw


def _list_of_strings(body: dict[str, Any], name: str) -> list[str]:
    raw = body.get(name) or []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ValidationError.single(name, "invalid_type", f"{name} is a list of strings")
    return raw


def _query_from_body(body: dict[str, Any]) -> QueryMeterInput:
    fgb = body.get("filterGroupBy") or {}
    if not isinstance(fgb, dict):
        raise ValidationError.single("filterGroupBy", "invalid_type", "filterGroupBy is an object")
    return QueryMeterInput(
        start=_body_time(body, "from"),
        end=_body_time(body, "to"),
        window_size=body.get("windowSize"),
        time_zone=body.get("windowTimeZone"),
        subjects=_list_of_strings(body, "subject"),
        customer_ids=_list_of_strings(body, "filterCustomerId"),
        group_by=_list_of_strings(body, "groupBy"),
        filter_group_by={
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in fgb.items()
        },
        advanced_filters=_advanced(body.get("advancedMeterGroupByFilters")),
    )


def _csv(q: MeterQuery, rows: list[MeterRow]) -> Response:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = ["window_start", "window_end"]
    if q.group_by_subject:
        header.append("subject")
    if q.group_by_customer:
        header.append("customer_id")
    header.extend(q.group_by)
    w.writerow([*header, "value"])
    for r in rows:
        line = [format_rfc3339(r.window_start), format_rfc3339(r.window_end)]
        if q.group_by_subject:
            line.append(r.subject or "")
        if q.group_by_customer:
            line.append(r.customer_id or "")
        line.extend(r.group_by.get(k) or "" for k in q.group_by)
        w.writerow([*line, format_decimal(r.value)])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{q.meter.slug}.csv"'},
    )


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


async def _answer(
    request: Request, namespace: str, id_or_slug: str, inp: QueryMeterInput
) -> Response:
    c: ContainerLike = request.app.state.container
    q, rows = await run_in_threadpool(c.meters.query, namespace, id_or_slug, inp)
    return render_query(request, q, rows)


def render_query(request: Request, q: MeterQuery, rows: list[MeterRow]) -> Response:
    """A query result as JSON or, when the client asks for it, CSV."""
    if _wants_csv(request):
        return _csv(q, rows)
    body: dict[str, Any] = {"data": [to_api_row(r) for r in rows]}
    if q.start is not None:
        body["from"] = q.start
    if q.end is not None:
        body["to"] = q.end
    if q.window_size is not None:
        body["windowSize"] = q.window_size.value
    return JSON(body)


@router.get(
    "/api/v1/meters/{meterIdOrSlug}/query",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def query_meter(meterIdOrSlug: str, request: Request, who: Principal = READ) -> Response:
    return await _answer(request, who.namespace, segment(meterIdOrSlug), query_from_params(request))


@router.post(
    "/api/v1/meters/{meterIdOrSlug}/query",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
    openapi_extra=schemas.body("MeterQueryRequest"),
)
async def query_meter_post(meterIdOrSlug: str, request: Request, who: Principal = READ) -> Response:
    body = await json_body(request, required=False)
    inp = _query_from_body(obj(body)) if body is not None else QueryMeterInput()
    return await _answer(request, who.namespace, segment(meterIdOrSlug), inp)


@router.get("/api/v1/meters/{meterIdOrSlug}/subjects")
def meter_subjects(meterIdOrSlug: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(
        c.meters.subjects(
            who.namespace,
            segment(meterIdOrSlug),
            timestamp(request, "from"),
            timestamp(request, "to"),
        )
    )


@router.get("/api/v1/meters/{meterIdOrSlug}/group-by/{groupByKey}/values")
def meter_group_values(
    meterIdOrSlug: str, groupByKey: str, request: Request, who: Principal = READ
) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(
        c.meters.group_values(
            who.namespace,
            segment(meterIdOrSlug),
            segment(groupByKey),
            timestamp(request, "from"),
            timestamp(request, "to"),
        )
    )
