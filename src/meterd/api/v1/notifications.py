"""``/api/v1/notification/*``: webhook channels, rules, events and resends."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment, timestamp
from meterd.api.responses import JSON, no_content
from meterd.core.errors import ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.notifications import (
    CHANNEL_TYPE,
    Channel,
    ChannelInput,
    Delivery,
    EventQuery,
    ListQuery,
    NotificationEvent,
    NotificationService,
    Page,
    Rule,
    RuleInput,
)

router = APIRouter(tags=["Notifications"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
BASE = "/api/v1/notification"


class ChannelBody(BaseModel):
    type: Literal["WEBHOOK"]
    name: str = Field(min_length=1, max_length=256)
    url: str
    disabled: bool = False
    signingSecret: str | None = Field(None, pattern=r"^(whsec_)?[a-zA-Z0-9+/=]{32,100}$")
    customHeaders: dict[str, str] | None = None
    metadata: dict[str, str] | None = None


class RuleBody(BaseModel):
    type: Literal[
        "entitlements.balance.threshold", "entitlements.reset", "invoice.created", "invoice.updated"
    ]
    name: str = Field(min_length=1, max_length=256)
    channels: list[str] = Field(min_length=1)
    disabled: bool = False
    thresholds: list[dict[str, Any]] | None = Field(
        None, description="[{type: usage_value|usage_percentage|balance_value, value: number}]"
    )
    features: list[str] | None = None
    metadata: dict[str, str] | None = None


class ResendBody(BaseModel):
    channels: list[str] | None = None


def _body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    schema = model.model_json_schema()
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content}}


# Domain to wire ---------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _channel_meta(channel_id: str) -> dict[str, Any]:
    return {"id": channel_id, "type": CHANNEL_TYPE}


def to_api_channel(c: Channel) -> dict[str, Any]:
    return _drop_none(
        {
            "id": c.id,
            "type": CHANNEL_TYPE,
            "name": c.name,
            "disabled": c.disabled,
            "url": c.url,
            "customHeaders": c.custom_headers,
            "signingSecret": c.signing_secret,
            "metadata": c.metadata or None,
            "createdAt": c.created_at,
            "updatedAt": c.updated_at,
            "deletedAt": c.deleted_at,
        }
    )


def to_api_rule(r: Rule) -> dict[str, Any]:
    out = _drop_none(
        {
            "id": r.id,
            "type": r.type.value,
            "name": r.name,
            "disabled": r.disabled,
            "channels": [_channel_meta(c) for c in r.channel_ids],
            "metadata": r.metadata or None,
            "createdAt": r.created_at,
            "updatedAt": r.updated_at,
            "deletedAt": r.deleted_at,
        }
    )
    if r.thresholds:
        out["thresholds"] = [{"value": t.value, "type": t.type.value} for t in r.thresholds]
    if r.features:
        out["features"] = [{"id": f.id, "key": f.key} for f in r.features]
    return out


def to_api_delivery(d: Delivery) -> dict[str, Any]:
    return _drop_none(
        {
            "state": d.state.value,
            "reason": d.reason,
            "updatedAt": d.updated_at,
            "channel": _channel_meta(d.channel_id),
            "nextAttempt": d.next_attempt_at,
            "attempts": [
                {
                    "state": a.state.value,
                    "response": _drop_none(
                        {
                            "statusCode": a.status_code,
                            "body": a.body,
                            "durationMs": a.duration_ms,
                            "url": a.url,
                        }
                    ),
                    "timestamp": a.timestamp,
                }
                for a in d.attempts
            ],
        }
    )


def to_api_event(e: NotificationEvent, rule: Rule | None) -> dict[str, Any]:
    return {
        "id": e.id,
        "type": e.type.value,
        "createdAt": e.created_at,
        "rule": to_api_rule(rule) if rule is not None else {"id": e.rule_id},
        "deliveryStatus": [to_api_delivery(d) for d in e.deliveries],
        "payload": e.payload,
        "annotations": e.annotations,
    }


def _page(page: Page[Any], items: list[dict[str, Any]]) -> JSON:
    return JSON(
        {"totalCount": page.total, "page": page.page, "pageSize": page.page_size, "items": items}
    )


# Wire to domain ---------------------------------------------------------------


def from_api_channel(body: dict[str, Any]) -> ChannelInput:
    return ChannelInput(
        type=body.get("type"),
        name=body.get("name"),
        url=body.get("url"),
        signing_secret=body.get("signingSecret"),
        custom_headers=body.get("customHeaders"),
        disabled=body.get("disabled"),
        metadata=body.get("metadata"),
    )


def from_api_rule(body: dict[str, Any]) -> RuleInput:
    return RuleInput(
        type=body.get("type"),
        name=body.get("name"),
        channels=body.get("channels"),
        disabled=body.get("disabled"),
        metadata=body.get("metadata"),
        thresholds=body.get("thresholds"),
        features=body.get("features"),
    )


def _list_query(request: Request, namespace: str, **filters: Any) -> ListQuery:
    return ListQuery(
        namespace=namespace,
        page=integer(request, "page", 1, 1, 1_000_000),
        page_size=integer(request, "pageSize", 100, 1, 1000),
        order_desc=_desc(request),
        order_by=one(request, "orderBy") or "id",
        include_deleted=boolean(request, "includeDeleted"),
        include_disabled=boolean(request, "includeDisabled"),
        **filters,
    )


def _desc(request: Request) -> bool:
    order = (one(request, "order") or "ASC").upper()
    if order not in ("ASC", "DESC"):
        raise ValidationError.single("order", "invalid_enum", "order is ASC or DESC")
    return order == "DESC"


def _service(request: Request) -> NotificationService:
    c: ContainerLike = request.app.state.container
    return c.notifications


# Channels ---------------------------------------------------------------------


@router.get(f"{BASE}/channels")
def list_channels(request: Request, who: Principal = READ) -> JSON:
    page = _service(request).list_channels(_list_query(request, who.namespace))
    return _page(page, [to_api_channel(c) for c in page.items])


@router.post(f"{BASE}/channels", status_code=201, openapi_extra=_body(ChannelBody))
async def create_channel(request: Request, who: Principal = WRITE) -> JSON:
    inp = from_api_channel(obj(await json_body(request)))
    return JSON(to_api_channel(_service(request).create_channel(who.namespace, inp)), 201)


@router.get(f"{BASE}/channels/{{channelId}}")
def get_channel(channelId: str, request: Request, who: Principal = READ) -> JSON:
    return JSON(to_api_channel(_service(request).get_channel(who.namespace, segment(channelId))))


@router.put(f"{BASE}/channels/{{channelId}}", openapi_extra=_body(ChannelBody))
async def update_channel(channelId: str, request: Request, who: Principal = WRITE) -> JSON:
    inp = from_api_channel(obj(await json_body(request)))
    updated = _service(request).update_channel(who.namespace, segment(channelId), inp)
    return JSON(to_api_channel(updated))


@router.delete(f"{BASE}/channels/{{channelId}}", status_code=204)
def delete_channel(channelId: str, request: Request, who: Principal = WRITE) -> Response:
    _service(request).delete_channel(who.namespace, segment(channelId))
    return no_content()


# Rules ------------------------------------------------------------------------


@router.get(f"{BASE}/rules")
def list_rules(request: Request, who: Principal = READ) -> JSON:
    query = _list_query(
        request,
        who.namespace,
        features=tuple(many(request, "feature")),
        channels=tuple(many(request, "channel")),
    )
    page = _service(request).list_rules(query)
    return _page(page, [to_api_rule(r) for r in page.items])


@router.post(f"{BASE}/rules", status_code=201, openapi_extra=_body(RuleBody))
async def create_rule(request: Request, who: Principal = WRITE) -> JSON:
    inp = from_api_rule(obj(await json_body(request)))
    return JSON(to_api_rule(_service(request).create_rule(who.namespace, inp)), 201)


@router.get(f"{BASE}/rules/{{ruleId}}")
def get_rule(ruleId: str, request: Request, who: Principal = READ) -> JSON:
    return JSON(to_api_rule(_service(request).get_rule(who.namespace, segment(ruleId))))


@router.put(f"{BASE}/rules/{{ruleId}}", openapi_extra=_body(RuleBody))
async def update_rule(ruleId: str, request: Request, who: Principal = WRITE) -> JSON:
    inp = from_api_rule(obj(await json_body(request)))
    return JSON(to_api_rule(_service(request).update_rule(who.namespace, segment(ruleId), inp)))


@router.delete(f"{BASE}/rules/{{ruleId}}", status_code=204)
def delete_rule(ruleId: str, request: Request, who: Principal = WRITE) -> Response:
    _service(request).delete_rule(who.namespace, segment(ruleId))
    return no_content()


@router.post(f"{BASE}/rules/{{ruleId}}/test", status_code=201)
def test_rule(ruleId: str, request: Request, who: Principal = WRITE) -> JSON:
    service = _service(request)
    event = service.test_rule(who.namespace, segment(ruleId))
    return JSON(to_api_event(event, service.get_rule(who.namespace, event.rule_id)), 201)


# Events -----------------------------------------------------------------------


@router.get(f"{BASE}/events")
def list_events(request: Request, who: Principal = READ) -> JSON:
    query = EventQuery(
        namespace=who.namespace,
        start=timestamp(request, "from"),
        end=timestamp(request, "to"),
        features=tuple(many(request, "feature")),
        subjects=tuple(many(request, "subject")),
        rules=tuple(many(request, "rule")),
        channels=tuple(many(request, "channel")),
        page=integer(request, "page", 1, 1, 1_000_000),
        page_size=integer(request, "pageSize", 100, 1, 1000),
        order_desc=_desc(request),
        order_by=one(request, "orderBy") or "id",
    )
    page, rules = _service(request).list_events(query)
    return _page(page, [to_api_event(e, rules.get(e.rule_id)) for e in page.items])


@router.get(f"{BASE}/events/{{eventId}}")
def get_event(eventId: str, request: Request, who: Principal = READ) -> JSON:
    event, rule = _service(request).get_event(who.namespace, segment(eventId))
    return JSON(to_api_event(event, rule))


@router.post(
    f"{BASE}/events/{{eventId}}/resend",
    status_code=202,
    openapi_extra=_body(ResendBody, required=False),
)
async def resend_event(eventId: str, request: Request, who: Principal = WRITE) -> Response:
    body = await json_body(request, required=False)
    channels = None
    if body is not None:
        raw = obj(body).get("channels")
        if raw is not None and not (
            isinstance(raw, list) and all(isinstance(c, str) and c for c in raw)
        ):
            raise ValidationError.single(
                "channels", "invalid_type", "channels is a list of channel ids"
            )
        channels = raw
    _service(request).resend(who.namespace, segment(eventId), channels)
    return Response(status_code=202)
