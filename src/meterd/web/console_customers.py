"""Customers: search, and one customer's usage, entitlements and credits."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.responses import Response

from meterd.core.errors import ValidationError
from meterd.domain.customers import Customer, CustomerListQuery
from meterd.domain.entitlements import (
    Entitlement,
    EntitlementListQuery,
    EntitlementType,
    EntitlementValue,
    GrantListQuery,
    HistoryInput,
)
from meterd.domain.meters import QueryMeterInput
from meterd.web import console_invoices, console_subscriptions
from meterd.web.charts import Point, line_chart
from meterd.web.container import WebContainer, optional
from meterd.web.deps import ConsoleUser, console_user, container
from meterd.web.render import HtmlRoute, page
from meterd.web.usage import RANGES, WINDOWS, Range, parse_range, usage_chart

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
PAGE_SIZE = 50


@router.get("/console/customers")
def customers(request: Request, user: User, q: str = "", page_no: int = 1) -> Response:
    c = container(request)
    found = c.customers.list_customers(
        CustomerListQuery(
            namespace=user.namespace,
            name=q or None,
            page=max(page_no, 1),
            page_size=PAGE_SIZE,
            order_by="name",
        )
    )
    items = list(found.items)
    if q and page_no <= 1:
        # A search for an exact key or subject finds that customer too.
        for by in (
            CustomerListQuery(namespace=user.namespace, page_size=5, key=q),
            CustomerListQuery(namespace=user.namespace, page_size=5, subject=q),
        ):
            more = c.customers.list_customers(by)
            items.extend(m for m in more.items if all(m.id != i.id for i in items))
    return page(
        request,
        "customers.html",
        customers=items,
        q=q,
        total=found.total,
        page_no=found.page,
        pages=max(1, -(-found.total // PAGE_SIZE)),
    )


@dataclass(frozen=True, slots=True)
class EntitlementRow:
    entitlement: Entitlement
    value: EntitlementValue
    period: Any
    burn_down: Markup | None


def entitlement_rows(c: WebContainer, namespace: str, customer: Customer) -> list[EntitlementRow]:
    """Each live entitlement with its balance and, when metered, its burn-down."""
    ents = c.entitlements.list_entitlements(
        EntitlementListQuery(namespace=namespace, customer_ids=(customer.id,))
    ).items
    rows = []
    for ent in ents:
        value = c.entitlements.value(namespace, customer, ent.id, None)
        timing = c.entitlements.timing(ent)
        chart = None
        history = None
        if ent.type is EntitlementType.METERED:
            # A period that began this very minute has no history yet.
            with contextlib.suppress(ValidationError):
                history = c.entitlements.history(
                    namespace, customer, ent.id, HistoryInput(window_size="DAY")
                )
        if history is not None:
            pts = [
                Point(
                    label=w.period.start.strftime("%m-%d"),
                    title=f"Balance at {w.period.start:%Y-%m-%d %H:%M} UTC",
                    value=w.balance_at_start,
                )
                for w in history.windows
            ]
            if value.balance is not None and history.windows:
                end = history.windows[-1].period.end
                pts.append(
                    Point(
                        label="now",
                        title=f"Balance at {end:%Y-%m-%d %H:%M} UTC",
                        value=value.balance,
                    )
                )
            chart = line_chart(pts, f"{ent.feature_key}: balance this usage period")
        rows.append(EntitlementRow(ent, value, timing.current_period, chart))
    return rows


def prepaid(c: WebContainer, namespace: str, customer: Customer) -> dict[str, Any] | None:
    """Billing's prepaid credit in the customer's currency: granted, used, left."""
    actions = optional(c, "invoice_actions")
    if actions is None or not customer.currency:
        return None
    granted, used = actions.credit_balance(namespace, customer.id, customer.currency)
    return {"granted": granted, "used": used, "left": granted - used, "currency": customer.currency}


def range_context(rng: Range) -> dict[str, Any]:
    return {"rng": rng, "ranges": RANGES, "windows": WINDOWS}


@router.get("/console/customers/{customer_ref}")
def customer(request: Request, user: User, customer_ref: str) -> Response:
    c = container(request)
    ns = user.namespace
    cust = c.customers.get(ns, customer_ref)
    rng = parse_range(dict(request.query_params), c.clock.now())
    charts = []
    for meter in c.meters.list_meters(ns):

        def run(inp: QueryMeterInput, slug: str = meter.id) -> Any:
            return c.meters.query(ns, slug, inp)[1]

        charts.append(usage_chart(meter, rng, run, customer_ids=[cust.id]))
    grants = c.entitlements.list_grants(
        GrantListQuery(namespace=ns, customer_ids=(cust.id,), order_desc=True)
    ).items
    features = {}
    for ent in c.entitlements.list_entitlements(
        EntitlementListQuery(namespace=ns, customer_ids=(cust.id,), include_deleted=True)
    ).items:
        features[ent.id] = ent.feature_key
    return page(
        request,
        "customer.html",
        customer=cust,
        charts=charts,
        entitlements=entitlement_rows(c, ns, cust),
        grants=grants,
        prepaid=prepaid(c, ns, cust),
        grant_features=features,
        subscriptions=console_subscriptions.for_customer(c, ns, cust),
        invoices=console_invoices.for_customer(c, ns, cust.id),
        names=None,
        **range_context(rng),
    )
