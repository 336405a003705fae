"""The customer portal: one subject's usage, balances and period, by portal token."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from meterd.core.errors import NotFoundError
from meterd.core.periods import Period
from meterd.domain.meters import QueryMeterInput
from meterd.domain.portal import PortalAccess
from meterd.web.console_customers import EntitlementRow, entitlement_rows, range_context
from meterd.web.container import WebContainer
from meterd.web.deps import container
from meterd.web.render import HtmlRoute, page
from meterd.web.usage import month_start, parse_range, usage_chart

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _balances(c: WebContainer, access: PortalAccess) -> list[EntitlementRow]:
    owners = c.customers.customers_by_subject(access.namespace, [access.subject])
    customer_id = owners.get(access.subject)
    customer = c.entitlements.customer_by_id(access.namespace, customer_id) if customer_id else None
    return entitlement_rows(c, access.namespace, customer) if customer else []


def _current_period(c: WebContainer, access: PortalAccess, rows: list[EntitlementRow]) -> Any:
    for row in rows:
        if row.period is not None:
            return row.period
    with contextlib.suppress(NotFoundError):
        subject = c.customers.get_subject(access.namespace, access.subject)
        if subject.current_period_start and subject.current_period_end:
            return Period(subject.current_period_start, subject.current_period_end)
    start = month_start(c.clock.now())
    return Period(start, (start + timedelta(days=32)).replace(day=1))


@router.get("/portal/")
def portal(request: Request, token: str = "") -> Response:
    c = container(request)
    access = c.portal.authenticate(token or None)
    rng = parse_range(dict(request.query_params), c.clock.now(), default="month")
    charts = []
    for meter in c.meters.list_meters(access.namespace):
        if not access.allows(meter.slug):
            continue

        def run(inp: QueryMeterInput, slug: str = meter.slug) -> Any:
            return c.portal.query(access, slug, inp)[1]

        charts.append(usage_chart(meter, rng, run))
    rows = _balances(c, access)
    response = page(
        request,
        "portal.html",
        embeddable=True,
        access=access,
        charts=charts,
        entitlements=rows,
        period=_current_period(c, access, rows),
        extra_params={"token": token},
        **range_context(rng),
    )
    # The token is in this page's address: never send it on as a referrer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
