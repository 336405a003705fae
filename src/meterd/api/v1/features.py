"""``/api/v1/features``: create, get, list, archive."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import page_envelope, to_api_feature
from meterd.domain.auth import Operation, Principal
from meterd.domain.features import CreateFeatureInput, FeatureListQuery

router = APIRouter(tags=["Features"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))


@dataclass(frozen=True, slots=True)
class Slice:
    """Which rows a legacy list returns, and whether in a page envelope.

    Legacy lists answer a bare array unless ``page`` or ``pageSize`` is
    given; then they answer the page envelope.
    """

    offset: int
    limit: int
    page: int
    page_size: int
    envelope: bool


def slice_of(request: Request, always_envelope: bool = False) -> Slice:
    envelope = (
        always_envelope
        or one(request, "page") is not None
        or (one(request, "pageSize") is not None)
    )
    if envelope:
        page = integer(request, "page", 1, 1, 1_000_000)
        size = integer(request, "pageSize", 100, 1, 1000)
        return Slice((page - 1) * size, size, page, size, True)
    offset = integer(request, "offset", 0, 0, 1_000_000_000)
    limit = integer(request, "limit", 100, 1, 1000)
    return Slice(offset, limit, 1, limit, False)


def order_desc(request: Request) -> bool:
    return (one(request, "order") or "ASC").upper() == "DESC"


@router.post("/api/v1/features", status_code=201)
async def create_feature(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = obj(await json_body(request))
    inp = CreateFeatureInput(
        key=body.get("key"),
        name=body.get("name"),
        metadata=body.get("metadata"),
        meter_slug=body.get("meterSlug"),
        meter_group_by_filters=body.get("meterGroupByFilters"),
        advanced_filters=body.get("advancedMeterGroupByFilters"),
    )
    return JSON(to_api_feature(c.features.create(who.namespace, inp)), status_code=201)


@router.get("/api/v1/features")
def list_features(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    part = slice_of(request)
    page = c.features.list_features(
        FeatureListQuery(
            namespace=who.namespace,
            include_archived=boolean(request, "includeArchived"),
            meter_slugs=tuple(many(request, "meterSlug")),
            order_by=one(request, "orderBy") or "createdAt",
            order_desc=order_desc(request),
            offset=part.offset,
            limit=part.limit,
        )
    )
    items = [to_api_feature(f) for f in page.items]
    if part.envelope:
        return JSON(page_envelope(items, page.total, part.page, part.page_size))
    return JSON(items)


@router.get("/api/v1/features/{featureId}")
def get_feature(featureId: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(to_api_feature(c.features.get(who.namespace, segment(featureId))))


@router.delete("/api/v1/features/{featureId}", status_code=204)
def delete_feature(featureId: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.features.archive(who.namespace, segment(featureId))
    return no_content()
