"""The console overview: event totals and rate, top customers, recent invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from meterd.domain.customers import CustomerListQuery
from meterd.domain.events import EventQuery
from meterd.domain.meters import Meter, QueryMeterInput
from meterd.web import console_invoices
from meterd.web.container import WebContainer
from meterd.web.deps import ConsoleUser, console_user, container
from meterd.web.render import HtmlRoute, page
from meterd.web.stats import RateSampler
from meterd.web.usage import month_start

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
TOP = 10
RATE_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class TopRow:
    customer_id: str | None
    name: str
    subjects: list[str]
    usage: Decimal


def _stats(request: Request, c: WebContainer, user: ConsoleUser) -> dict[str, Any]:
    sampler: RateSampler = request.app.state.web_rates
    total = c.events.count(user.namespace)
    rate = sampler.observe(user.namespace, total)
    at_least = False
    if rate is None:
        # Nothing to compare with yet: count what arrived in the last minute.
        since = c.clock.now() - timedelta(minutes=1)
        recent = c.events.list_events(
            EventQuery(namespace=user.namespace, ingested_from=since, limit=RATE_SAMPLE)
        )
        rate = (Decimal(len(recent)) / 60).quantize(Decimal("0.1"))
        at_least = len(recent) >= RATE_SAMPLE
    return {
        "events_total": total,
        "events_rate": rate,
        "events_rate_at_least": at_least,
        "meters_total": len(c.meters.list_meters(user.namespace)),
        "customers_total": c.customers.list_customers(
            CustomerListQuery(namespace=user.namespace, page_size=1)
        ).total,
    }


def top_customers(c: WebContainer, namespace: str, meter: Meter) -> list[TopRow]:
    """This month's heaviest users of ``meter``, subjects added up per customer."""
    now = c.clock.now()
    _, rows = c.meters.query(
        namespace, meter.id, QueryMeterInput(start=month_start(now), group_by=["subject"])
    )
    by_subject = {r.subject: r.value for r in rows if r.subject is not None}
    owners = c.customers.customers_by_subject(namespace, list(by_subject))
    grouped: dict[str, tuple[list[str], Decimal]] = {}
    for subject, value in by_subject.items():
        key = owners.get(subject) or f"subject:{subject}"
        subjects, usage = grouped.get(key, ([], Decimal(0)))
        grouped[key] = ([*subjects, subject], usage + value)
    ranked = sorted(grouped.items(), key=lambda kv: kv[1][1], reverse=True)[:TOP]
    out = []
    for key, (subjects, usage) in ranked:
        if key.startswith("subject:"):
            out.append(
                TopRow(customer_id=None, name="(no customer)", subjects=subjects, usage=usage)
            )
        else:
            name = c.customers.get(namespace, key).name
            out.append(TopRow(customer_id=key, name=name, subjects=subjects, usage=usage))
    return out


@router.get("/console/")
def overview(request: Request, user: User, meter: str = "") -> Response:
    c = container(request)
    meters = c.meters.list_meters(user.namespace)
    chosen = next((m for m in meters if meter in (m.slug, m.id)), meters[0] if meters else None)
    top = top_customers(c, user.namespace, chosen) if chosen else []
    return page(
        request,
        "overview.html",
        meters=meters,
        chosen=chosen,
        top=top,
        invoices=console_invoices.recent(c, user.namespace),
        names=None,
        **_stats(request, c, user),
    )


@router.get("/console/stats")
def stats(request: Request, user: User) -> Response:
    c = container(request)
    return page(request, "_stats.html", **_stats(request, c, user))
