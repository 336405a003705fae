"""Entitlements and grants: customer-scoped v2 routes, admin listings, the value check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meterd.api.auth import key_from, require
from meterd.api.container import ContainerLike
from meterd.api.params import boolean, json_body, many, obj, one, segment, timestamp
from meterd.api.responses import JSON, no_content
from meterd.api.v1.entitlements_wire import (
    page_envelope,
    to_api_entitlement,
    to_api_grant,
    to_api_history,
    to_api_value,
)
from meterd.api.v1.features import Slice, order_desc, slice_of
from meterd.core.errors import ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.customers import Customer
from meterd.domain.entitlements import (
    CreateEntitlementInput,
    CreateGrantInput,
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    Grant,
    GrantListQuery,
    HistoryInput,
    Page,
    ResetInput,
)

router = APIRouter(tags=["Entitlements"])
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
CUSTOMER = "/api/v2/customers/{customerIdOrKey}/entitlements"
ONE = CUSTOMER + "/{entitlementIdOrFeatureKey}"


def _container(request: Request) -> ContainerLike:
    container: ContainerLike = request.app.state.container
    return container


def _grant_input(body: dict[str, Any]) -> CreateGrantInput:
    return CreateGrantInput(
        amount=body.get("amount"),
        effective_at=body.get("effectiveAt"),
        priority=body.get("priority"),
        expiration=body.get("expiration"),
        min_rollover_amount=body.get("minRolloverAmount"),
        max_rollover_amount=body.get("maxRolloverAmount"),
        recurrence=body.get("recurrence"),
        metadata=body.get("metadata"),
        annotations=body.get("annotations"),
    )


def _entitlement_input(body: dict[str, Any]) -> CreateEntitlementInput:
    grants = body.get("grants")
    if grants is not None and not (
        isinstance(grants, list) and all(isinstance(g, dict) for g in grants)
    ):
        raise ValidationError.single("grants", "invalid_type", "grants is a list of grants")
    return CreateEntitlementInput(
        type=body.get("type"),
        feature_key=body.get("featureKey"),
        feature_id=body.get("featureId"),
        metadata=body.get("metadata"),
        usage_period=body.get("usagePeriod"),
        is_soft_limit=body.get("isSoftLimit"),
        preserve_overage_at_reset=body.get("preserveOverageAtReset"),
        issue_after_reset=body.get("issueAfterReset"),
        issue_after_reset_priority=body.get("issueAfterResetPriority"),
        issue=body.get("issue"),
        measure_usage_from=body.get("measureUsageFrom"),
        config=body.get("config"),
        grants=[_grant_input(g) for g in grants or []],
    )


def _view(c: ContainerLike, e: Entitlement, customer: Customer | None, v1: bool = False) -> Any:
    return to_api_entitlement(e, customer, c.entitlements.timing(e), v1)


def _views(c: ContainerLike, ns: str, items: list[Entitlement], v1: bool) -> list[Any]:
    owners: dict[str, Customer | None] = {}
    for e in items:
        if e.customer_id not in owners:
            owners[e.customer_id] = c.entitlements.customer_by_id(ns, e.customer_id)
    return [_view(c, e, owners[e.customer_id], v1) for e in items]


def _listed(items: list[Any], page: Page[Any], part: Slice) -> JSON:
    if part.envelope:
        return JSON(page_envelope(items, page.total, part.page, part.page_size))
    return JSON(items)


def _types(request: Request) -> tuple[EntitlementType, ...]:
    try:
        return tuple(EntitlementType(t) for t in many(request, "entitlementType"))
    except ValueError:
        raise ValidationError.single(
            "entitlementType", "invalid_enum", "entitlementType is metered, boolean or static"
        ) from None


# -- customer-scoped (v2) ------------------------------------------------------


@router.post(CUSTOMER, status_code=201)
async def create_entitlement(
    customerIdOrKey: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _container(request)
    inp = _entitlement_input(obj(await json_body(request)))
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    ent = c.entitlements.create(who.namespace, customer, inp)
    return JSON(_view(c, ent, customer), status_code=201)


@router.get(CUSTOMER)
def list_customer_entitlements(
    customerIdOrKey: str, request: Request, who: Principal = READ
) -> JSON:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    part = slice_of(request, always_envelope=True)
    page = c.entitlements.list_entitlements(
        EntitlementListQuery(
            namespace=who.namespace,
            customer_ids=(customer.id,),
            include_deleted=boolean(request, "includeDeleted"),
            order_by=one(request, "orderBy") or "createdAt",
            order_desc=order_desc(request),
            offset=part.offset,
            limit=part.limit,
        )
    )
    return _listed([_view(c, e, customer) for e in page.items], page, part)


@router.get(ONE)
def get_customer_entitlement(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = READ
) -> JSON:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    ent = c.entitlements.get(who.namespace, customer, segment(entitlementIdOrFeatureKey))
    return JSON(_view(c, ent, customer))


@router.delete(ONE, status_code=204)
def delete_customer_entitlement(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = WRITE
) -> Response:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    c.entitlements.delete(who.namespace, customer, segment(entitlementIdOrFeatureKey))
    return no_content()


@router.put(ONE + "/override", status_code=201)
async def override_entitlement(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _container(request)
    inp = _entitlement_input(obj(await json_body(request)))
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    ent = c.entitlements.override(who.namespace, customer, segment(entitlementIdOrFeatureKey), inp)
    return JSON(_view(c, ent, customer), status_code=201)


def _reader(request: Request) -> Principal:
    """Authenticate in the request's own task: as a dependency, the check
    would cross to a worker thread and back once more."""
    auth = _container(request).auth
    principal = auth.authenticate(key_from(request))
    auth.authorize(principal, Operation.READ)
    return principal


async def _value(request: Request, customer_ref: str, ent_ref: str, v2: bool) -> JSON:
    # The access check is the hot path: no dependency, one hop to a thread.
    c = _container(request)
    ns = _reader(request).namespace
    at = timestamp(request, "time")
    value = await run_in_threadpool(c.entitlements.check, ns, customer_ref, ent_ref, at)
    return JSON(to_api_value(value, v2))


@router.get(ONE + "/value")
async def entitlement_value(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request
) -> JSON:
    return await _value(request, segment(customerIdOrKey), segment(entitlementIdOrFeatureKey), True)


@router.get("/api/v1/customers/{customerIdOrKey}/entitlements/{featureKey}/value")
async def entitlement_value_v1(customerIdOrKey: str, featureKey: str, request: Request) -> JSON:
    return await _value(request, segment(customerIdOrKey), segment(featureKey), False)


@router.get("/api/v1/customers/{customerIdOrKey}/access")
def customer_access(customerIdOrKey: str, request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    values = c.entitlements.access(who.namespace, customer)
    return JSON({"entitlements": {k: to_api_value(v) for k, v in values.items()}})


@router.get(ONE + "/history")
def entitlement_history(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = READ
) -> JSON:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    inp = HistoryInput(
        window_size=one(request, "windowSize"),
        time_zone=one(request, "windowTimeZone"),
        start=timestamp(request, "from"),
        end=timestamp(request, "to"),
    )
    history = c.entitlements.history(
        who.namespace, customer, segment(entitlementIdOrFeatureKey), inp
    )
    return JSON(to_api_history(history))


@router.post(ONE + "/reset", status_code=204)
async def reset_entitlement(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = WRITE
) -> Response:
    c = _container(request)
    body = await json_body(request, required=False)
    fields = obj(body) if body is not None else {}
    inp = ResetInput(
        effective_at=fields.get("effectiveAt"),
        retain_anchor=fields.get("retainAnchor"),
        preserve_overage=fields.get("preserveOverage"),
    )
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    target = segment(entitlementIdOrFeatureKey)
    c.entitlements.reset(who.namespace, customer, target, inp)
    entitlement = c.entitlements.get(who.namespace, customer, target)
    await run_in_threadpool(c.announce_reset, who.namespace, entitlement.id)
    return no_content()


@router.get(ONE + "/grants")
def list_entitlement_grants(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = READ
) -> JSON:
    c = _container(request)
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    ent = c.entitlements.get(who.namespace, customer, segment(entitlementIdOrFeatureKey))
    return _grants(request, c, who.namespace, True, entitlement_ids=(ent.id,))


@router.post(ONE + "/grants", status_code=201)
async def create_entitlement_grant(
    customerIdOrKey: str, entitlementIdOrFeatureKey: str, request: Request, who: Principal = WRITE
) -> JSON:
    c = _container(request)
    inp = _grant_input(obj(await json_body(request)))
    customer = c.entitlements.customer(who.namespace, segment(customerIdOrKey))
    grant = c.entitlements.create_grant(
        who.namespace, customer, segment(entitlementIdOrFeatureKey), inp
    )
    return JSON(to_api_grant(grant, c.clock.now()), status_code=201)


# -- admin listings --------------------------------------------------------------


def _entitlements(request: Request, ns: str, envelope: bool, customers: tuple[str, ...]) -> JSON:
    c = _container(request)
    part = slice_of(request, always_envelope=envelope)
    page = c.entitlements.list_entitlements(
        EntitlementListQuery(
            namespace=ns,
            customer_ids=customers,
            feature_keys_or_ids=tuple(many(request, "feature")),
            types=_types(request),
            exclude_inactive_at=c.clock.now() if boolean(request, "excludeInactive") else None,
            order_by=one(request, "orderBy") or "createdAt",
            order_desc=order_desc(request),
            offset=part.offset,
            limit=part.limit,
        )
    )
    return _listed(_views(c, ns, page.items, v1=not envelope), page, part)


def _customer_ids(c: ContainerLike, ns: str, ids_or_keys: list[str]) -> tuple[str, ...]:
    """Customer ids for ids or keys; unknown ones match nothing rather than fail."""
    out: list[str] = []
    for ref in ids_or_keys:
        found = c.entitlements.customer_by_id(ns, ref)
        out.append(found.id if found is not None else ref)
    return tuple(out)


def _subject_owners(c: ContainerLike, ns: str, subjects: list[str]) -> tuple[str, ...]:
    owners = c.customers.customers_by_subject(ns, subjects)
    # A subject nobody owns matches nothing: keep an id no customer has.
    return tuple(owners.values()) or ("-",)


@router.get("/api/v1/entitlements")
def list_entitlements_v1(request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    subjects = many(request, "subject")
    owners = _subject_owners(c, who.namespace, subjects) if subjects else ()
    return _entitlements(request, who.namespace, False, owners)


@router.get("/api/v2/entitlements")
def list_entitlements_v2(request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    refs = many(request, "customerIds") + many(request, "customerKeys")
    owners = _customer_ids(c, who.namespace, refs) if refs else ()
    return _entitlements(request, who.namespace, True, owners)


@router.get("/api/v1/entitlements/{entitlementId}")
def get_entitlement_v1(entitlementId: str, request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    ent = c.entitlements.get_by_id(who.namespace, segment(entitlementId))
    return JSON(_views(c, who.namespace, [ent], v1=True)[0])


@router.get("/api/v2/entitlements/{entitlementId}")
def get_entitlement_v2(entitlementId: str, request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    ent = c.entitlements.get_by_id(who.namespace, segment(entitlementId))
    return JSON(_views(c, who.namespace, [ent], v1=False)[0])


def _grants(
    request: Request,
    c: ContainerLike,
    ns: str,
    envelope: bool,
    entitlement_ids: tuple[str, ...] = (),
    customer_ids: tuple[str, ...] = (),
) -> JSON:
    part = slice_of(request, always_envelope=envelope)
    page: Page[Grant] = c.entitlements.list_grants(
        GrantListQuery(
            namespace=ns,
            entitlement_ids=entitlement_ids,
            customer_ids=customer_ids,
            feature_keys=tuple(many(request, "feature")),
            include_deleted=boolean(request, "includeDeleted"),
            order_by=one(request, "orderBy") or "createdAt",
            order_desc=order_desc(request),
            offset=part.offset,
            limit=part.limit,
        )
    )
    now = c.clock.now()
    return _listed([to_api_grant(g, now) for g in page.items], page, part)


@router.get("/api/v1/grants")
def list_grants_v1(request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    subjects = many(request, "subject")
    owners = _subject_owners(c, who.namespace, subjects) if subjects else ()
    return _grants(request, c, who.namespace, False, customer_ids=owners)


@router.get("/api/v2/grants")
def list_grants_v2(request: Request, who: Principal = READ) -> JSON:
    c = _container(request)
    refs = many(request, "customer")
    owners = _customer_ids(c, who.namespace, refs) if refs else ()
    return _grants(request, c, who.namespace, True, customer_ids=owners)


@router.delete("/api/v1/grants/{grantId}", status_code=204)
def void_grant(grantId: str, request: Request, who: Principal = WRITE) -> Response:
    c = _container(request)
    c.entitlements.void_grant(who.namespace, segment(grantId), timestamp(request, "at"))
    return no_content()
