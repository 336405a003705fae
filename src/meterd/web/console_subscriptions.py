"""Subscriptions: every customer's, one in detail, and cancelling one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from meterd.domain.customers import Customer, CustomerListQuery
from meterd.domain.subscriptions import Subscription, period_at
from meterd.web.container import WebContainer
from meterd.web.deps import ConsoleUser, console_user, container, field, form, writer
from meterd.web.render import HtmlRoute, page

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
Writer = Annotated[ConsoleUser, Depends(writer)]
Form = Annotated[dict[str, list[str]], Depends(form)]
MAX_CUSTOMERS = 1000
TIMINGS = ("next_billing_cycle", "immediate")


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    sub: Subscription
    customer: Customer
    status: str
    period: object  # the current billing period, or None outside the subscription


def row(sub: Subscription, customer: Customer, now: datetime) -> SubscriptionRow:
    status = sub.status(now).value
    running = sub.active_from <= now and (sub.active_to is None or now < sub.active_to)
    period = period_at(sub.billing_anchor, sub.billing_cadence, now) if running else None
    return SubscriptionRow(sub, customer, status, period)


def for_customer(c: WebContainer, namespace: str, customer: Customer) -> list[SubscriptionRow]:
    now = c.clock.now()
    subs = c.subscriptions.list_for_customer(namespace, customer.id, desc=True).items
    return [row(s, customer, now) for s in subs]


@router.get("/console/subscriptions")
def subscriptions(request: Request, user: User, status: str = "") -> Response:
    c = container(request)
    customers = c.customers.list_customers(
        CustomerListQuery(namespace=user.namespace, page_size=MAX_CUSTOMERS, order_by="name")
    )
    rows = [r for cu in customers.items for r in for_customer(c, user.namespace, cu)]
    if status:
        rows = [r for r in rows if r.status == status]
    return page(
        request,
        "subscriptions.html",
        rows=rows,
        status=status,
        truncated=customers.total > MAX_CUSTOMERS,
    )


@router.get("/console/subscriptions/{subscription_id}")
def subscription(request: Request, user: User, subscription_id: str) -> Response:
    c = container(request)
    sub = c.subscriptions.get(user.namespace, subscription_id)
    customer = c.customers.get(user.namespace, sub.customer_id)
    now = c.clock.now()
    return page(
        request,
        "subscription.html",
        r=row(sub, customer, now),
        phases=sub.visible_phases(),
        addons=c.subscriptions.list_addons(user.namespace, sub.id),
        now=now,
        timings=TIMINGS,
        done=request.query_params.get("done", ""),
    )


@router.post("/console/subscriptions/{subscription_id}/cancel")
def cancel(request: Request, user: Writer, fields: Form, subscription_id: str) -> Response:
    timing = field(fields, "timing", "next_billing_cycle")
    container(request).subscriptions.cancel(user.namespace, subscription_id, {"timing": timing})
    return RedirectResponse(
        f"/console/subscriptions/{subscription_id}?done=cancel", status_code=303
    )
