"""Plans and add-ons: versions, phases, and rate cards with their prices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.domain.catalog.addons import AddonListQuery
from meterd.domain.catalog.plans import PlanFilter, PlanListQuery
from meterd.web.deps import ConsoleUser, console_user, container
from meterd.web.prices import describe
from meterd.web.render import ENV, HtmlRoute, page

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
ENV.globals["describe_price"] = describe


@router.get("/console/plans")
def plans(request: Request, user: User) -> Response:
    c = container(request)
    found = c.plans.list_plans(
        PlanFilter(query=PlanListQuery(namespace=user.namespace, order_by="key"), limit=1000)
    )
    return page(request, "plans.html", plans=found.items, now=c.clock.now())


@router.get("/console/plans/{plan_id}")
def plan(request: Request, user: User, plan_id: str) -> Response:
    c = container(request)
    p = c.plans.get(user.namespace, plan_id, include_latest=True)
    versions = c.plans.list_plans(
        PlanFilter(query=PlanListQuery(namespace=user.namespace, keys=(p.key,), order_by="version"))
    ).items
    _, offers = c.addons.plan_offers(user.namespace, p.id)
    addons = {a.id: a for a in c.addons.list_addons(AddonListQuery(namespace=user.namespace))}
    return page(
        request,
        "plan.html",
        plan=p,
        versions=versions,
        offers=offers,
        addons=addons,
        now=c.clock.now(),
    )


@router.get("/console/addons")
def addons(request: Request, user: User) -> Response:
    c = container(request)
    found = c.addons.list_addons(AddonListQuery(namespace=user.namespace, order_by="key"))
    return page(request, "addons.html", addons=found, now=c.clock.now())


@router.get("/console/addons/{addon_id}")
def addon(request: Request, user: User, addon_id: str) -> Response:
    c = container(request)
    a = c.addons.get(user.namespace, addon_id, include_latest=True)
    versions = c.addons.list_addons(
        AddonListQuery(namespace=user.namespace, keys=(a.key,), order_by="version")
    )
    return page(request, "addon.html", addon=a, versions=versions, now=c.clock.now())
