"""Vayu customers: meterd customers with 24-hex ids, aliases as subjects."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from fastapi import APIRouter, Depends, Request

from meterd.api.compat import vayu_wire as wire
from meterd.api.compat.vayu_common import (
    CUSTOMER,
    PREFIX,
    TAGS,
    VayuRoute,
    container,
    page,
    paging,
    require,
)
from meterd.api.container import ContainerLike
from meterd.api.params import json_body, obj
from meterd.api.responses import JSON
from meterd.core.errors import NotFoundError, ValidationError
from meterd.domain.auth import Operation, Principal
from meterd.domain.customers import Customer, CustomerInput, CustomerListQuery

router = APIRouter(prefix=PREFIX, tags=TAGS, route_class=VayuRoute)
READ = Depends(require(Operation.READ))
WRITE = Depends(require(Operation.WRITE))
ADDRESS = {
    "country": "country",
    "city": "city",
    "addressText": "line1",
    "state": "state",
    "postalCode": "postalCode",
}


def customer_ref(c: ContainerLike, namespace: str, ref: str) -> Customer:
    """A customer by its 24-hex id; meterd ids and keys are accepted too."""
    local = c.external_ids.resolve(namespace, CUSTOMER, ref)
    found = c.customers.get(namespace, local or ref)
    if found.deleted_at is not None:
        raise NotFoundError(f"customer not found: {ref}")
    return found


def _email(contacts: Any) -> str | None:
    if contacts is None:
        return None
    if not isinstance(contacts, list):
        raise ValidationError.single("contacts", "invalid_type", "contacts is a list")
    for contact in contacts:
        if isinstance(contact, dict) and isinstance(contact.get("email"), str):
            return str(contact["email"])
    return None


def _address(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError.single("address", "invalid_type", "address is an object")
    return {ours: raw[theirs] for theirs, ours in ADDRESS.items() if raw.get(theirs) is not None}


def _current_address(cu: Customer) -> dict[str, Any] | None:
    a = cu.billing_address
    if a is None:
        return None
    values = asdict(a)
    wire_names = {"postal_code": "postalCode", "phone_number": "phoneNumber"}
    return {wire_names.get(k, k): v for k, v in values.items() if v is not None}


def _input(body: dict[str, Any], current: Customer | None) -> CustomerInput:
    """The full customer: given fields, and where null or absent the current ones."""

    def pick(name: str, now: Any) -> Any:
        value = body.get(name)
        return now if value is None else value

    return CustomerInput(
        name=pick("name", current.name if current else None),
        key=pick("externalId", current.key if current else None),
        description=current.description if current else None,
        primary_email=_email(body.get("contacts"))
        if body.get("contacts") is not None
        else (current.primary_email if current else None),
        currency=pick("currency", current.currency if current else None),
        subject_keys=pick("aliases", list(current.subject_keys) if current else None),
        billing_address=_address(body.get("address"))
        if body.get("address") is not None
        else (_current_address(current) if current else None),
        metadata=dict(current.metadata) if current else None,
    )


@router.post("/customers")
async def create_customer(request: Request, who: Principal = WRITE) -> JSON:
    c = container(request)
    created = c.customers.create(who.namespace, _input(obj(await json_body(request)), None))
    return JSON({"customer": wire.customer(c, created)})


@router.put("/customers/{ref}")
async def update_customer(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    body = obj(await json_body(request))
    current = customer_ref(c, who.namespace, ref)
    updated = c.customers.replace(who.namespace, current.id, _input(body, current))
    return JSON({"customer": wire.customer(c, updated)})


@router.delete("/customers/{ref}")
def delete_customer(request: Request, ref: str, who: Principal = WRITE) -> JSON:
    c = container(request)
    current = customer_ref(c, who.namespace, ref)
    c.customers.delete(who.namespace, current.id)
    gone = replace(current, deleted_at=c.clock.now())
    return JSON({"customer": wire.customer(c, gone)})


@router.get("/customers")
def list_customers(request: Request, who: Principal = READ) -> JSON:
    c = container(request)
    offset, limit = paging(request)
    # Customer pages are numbered; a cursor is an offset, so read the pages it spans.
    first = offset // limit + 1
    found = c.customers.list_customers(
        CustomerListQuery(namespace=who.namespace, page=first, page_size=limit)
    )
    items = found.items[offset - (first - 1) * limit :]
    if len(items) < limit and offset + len(items) < found.total:
        more = c.customers.list_customers(
            CustomerListQuery(namespace=who.namespace, page=first + 1, page_size=limit)
        )
        items = [*items, *more.items][:limit]
    return JSON(page("customers", [wire.customer(c, cu) for cu in items], found.total, offset))


@router.get("/customers/externalId/{external_id}")
def get_by_external_id(request: Request, external_id: str, who: Principal = READ) -> JSON:
    c = container(request)
    found = c.customers.list_customers(
        CustomerListQuery(namespace=who.namespace, key=external_id, page_size=1)
    )
    if not found.items:
        raise NotFoundError(f"customer not found: {external_id}")
    return JSON({"customer": wire.customer(c, found.items[0])})


@router.get("/customers/name/{name}")
def get_by_name(request: Request, name: str, who: Principal = READ) -> JSON:
    c = container(request)
    found = c.customers.list_customers(
        CustomerListQuery(namespace=who.namespace, name=name, page_size=100)
    )
    exact = [cu for cu in found.items if cu.name == name]
    if not exact:
        raise NotFoundError(f"customer not found: {name}")
    return JSON({"customer": wire.customer(c, exact[0])})


@router.get("/customers/integration/{kind}/{ident}", dependencies=[READ])
def get_by_integration_id(kind: str, ident: str) -> JSON:
    """meterd keeps no CRM or ERP integrations, so no customer is linked to one."""
    del kind, ident
    return JSON({"customer": None})


@router.get("/customers/{ref}")
def get_customer(request: Request, ref: str, who: Principal = READ) -> JSON:
    c = container(request)
    return JSON({"customer": wire.customer(c, customer_ref(c, who.namespace, ref))})
