"""``/api/v1/customers`` and the legacy ``/api/v1/subjects``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.api.auth import require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, integer, json_body, many, obj, one, segment
from meterd.api.responses import JSON, no_content
from meterd.api.v1 import schemas
from meterd.api.v1.subscriptions_wire import to_api_subscription
from meterd.api.v1.wire import to_api_customer, to_api_subject
from meterd.core.errors import ValidationError
from meterd.core.periods import parse_rfc3339
from meterd.domain.auth import Operation, Principal
from meterd.domain.customers import Customer, CustomerInput, CustomerListQuery, SubjectInput

router = APIRouter()
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
ORDER_BY = {"id": "id", "name": "name", "createdAt": "createdAt"}
EXPANDS = ("subscriptions",)


def _expand(request: Request) -> bool:
    """Whether ``expand=subscriptions`` was asked for (form-encoded, repeated or comma-joined)."""
    values = [v for raw in many(request, "expand") for v in raw.split(",") if v]
    for v in values:
        if v not in EXPANDS:
            raise ValidationError.single("expand", "invalid_enum", "expand is subscriptions")
    return "subscriptions" in values


def _with_subscriptions(
    c: ContainerLike, namespace: str, items: list[Customer], expand: bool
) -> list[dict[str, Any]]:
    """Wire customers carrying their running subscription's id (and it, when expanded)."""
    current = c.subscriptions.current_for_customers(namespace, [x.id for x in items])
    now = c.clock.now()
    out = []
    for x in items:
        wire = to_api_customer(x)
        sub = current.get(x.id)
        if sub is not None:
            wire["currentSubscriptionId"] = sub.id
        if expand:
            wire["subscriptions"] = [to_api_subscription(sub, now)] if sub is not None else []
        out.append(wire)
    return out


def _customer_input(body: dict[str, Any]) -> CustomerInput:
    ua = body.get("usageAttribution")
    if ua is not None and not isinstance(ua, dict):
        raise ValidationError.single(
            "usageAttribution", "invalid_type", "usageAttribution is an object with subjectKeys"
        )
    return CustomerInput(
        name=body.get("name"),
        key=body.get("key"),
        description=body.get("description"),
        primary_email=body.get("primaryEmail"),
        currency=body.get("currency"),
        subject_keys=(ua or {}).get("subjectKeys"),
        billing_address=body.get("billingAddress"),
        metadata=body.get("metadata"),
    )


@router.post(
    "/api/v1/customers",
    status_code=201,
    tags=["Customers"],
    openapi_extra=schemas.body("CustomerCreate"),
)
async def create_customer(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    inp = _customer_input(obj(await json_body(request)))
    created = c.customers.create(who.namespace, inp)
    return JSON(_with_subscriptions(c, who.namespace, [created], False)[0], status_code=201)


@router.get("/api/v1/customers", tags=["Customers"])
def list_customers(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    order_by = one(request, "orderBy") or "id"
    if order_by not in ORDER_BY:
        raise ValidationError.single("orderBy", "invalid_enum", "orderBy is id, name or createdAt")
    expand = _expand(request)
    plan_key = one(request, "planKey")
    on_plan = None
    if plan_key is not None:
        on_plan = tuple(c.subscriptions.customers_on_plan(who.namespace, plan_key))
    page = c.customers.list_customers(
        CustomerListQuery(
            namespace=who.namespace,
            page=integer(request, "page", 1, 1, 1_000_000),
            page_size=integer(request, "pageSize", 100, 1, 1000),
            order_desc=(one(request, "order") or "ASC").upper() == "DESC",
            order_by=order_by,
            include_deleted=boolean(request, "includeDeleted"),
            key=one(request, "key"),
            name=one(request, "name"),
            primary_email=one(request, "primaryEmail"),
            subject=one(request, "subject"),
            customer_ids=on_plan,
        )
    )
    return JSON(
        {
            "totalCount": page.total,
            "page": page.page,
            "pageSize": page.page_size,
            "items": _with_subscriptions(c, who.namespace, list(page.items), expand),
        }
    )


@router.get("/api/v1/customers/{customerIdOrKey}", tags=["Customers"])
def get_customer(customerIdOrKey: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    expand = _expand(request)
    found = c.customers.get(who.namespace, segment(customerIdOrKey))
    return JSON(_with_subscriptions(c, who.namespace, [found], expand)[0])


@router.put(
    "/api/v1/customers/{customerIdOrKey}",
    tags=["Customers"],
    openapi_extra=schemas.body("CustomerCreate"),
)
async def update_customer(customerIdOrKey: str, request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    inp = _customer_input(obj(await json_body(request)))
    updated = c.customers.replace(who.namespace, segment(customerIdOrKey), inp)
    return JSON(_with_subscriptions(c, who.namespace, [updated], False)[0])


@router.delete("/api/v1/customers/{customerIdOrKey}", status_code=204, tags=["Customers"])
def delete_customer(customerIdOrKey: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.customers.delete(who.namespace, segment(customerIdOrKey))
    return no_content()


def _opt_time(item: dict[str, Any], name: str, where: str) -> Any:
    raw = item.get(name)
    if raw is None:
        return None
    try:
        return parse_rfc3339(raw)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError.single(
            f"{where}.{name}", "invalid_time", f"{name} must be an RFC 3339 timestamp"
        ) from None


@router.post(
    "/api/v1/subjects", tags=["Subjects"], openapi_extra=schemas.body("SubjectUpsert", array=True)
)
async def upsert_subjects(request: Request, who: Principal = WRITE) -> JSON:
    c: ContainerLike = request.app.state.container
    body = await json_body(request)
    items = body if isinstance(body, list) else [obj(body)]
    inputs: list[SubjectInput] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError.single(f"[{i}]", "invalid_type", "each subject is an object")
        inputs.append(
            SubjectInput(
                key=item.get("key"),
                display_name=item.get("displayName"),
                metadata=item.get("metadata"),
                current_period_start=_opt_time(item, "currentPeriodStart", f"[{i}]"),
                current_period_end=_opt_time(item, "currentPeriodEnd", f"[{i}]"),
                stripe_customer_id=item.get("stripeCustomerId"),
            )
        )
    stored = c.customers.upsert_subjects(who.namespace, inputs)
    return JSON([to_api_subject(s) for s in stored])


@router.get("/api/v1/subjects", tags=["Subjects"])
def list_subjects(request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON([to_api_subject(s) for s in c.customers.list_subjects(who.namespace)])


@router.get("/api/v1/subjects/{subjectIdOrKey}", tags=["Subjects"])
def get_subject(subjectIdOrKey: str, request: Request, who: Principal = READ) -> JSON:
    c: ContainerLike = request.app.state.container
    return JSON(to_api_subject(c.customers.get_subject(who.namespace, segment(subjectIdOrKey))))


@router.delete("/api/v1/subjects/{subjectIdOrKey}", status_code=204, tags=["Subjects"])
def delete_subject(subjectIdOrKey: str, request: Request, who: Principal = WRITE) -> Response:
    c: ContainerLike = request.app.state.container
    c.customers.delete_subject(who.namespace, segment(subjectIdOrKey))
    return no_content()
