"""Notification channels and rules, and the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from meterd.domain.notifications import EventQuery, ListQuery
from meterd.web.deps import ConsoleUser, console_user, container, form, writer
from meterd.web.render import HtmlRoute, page

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)
User = Annotated[ConsoleUser, Depends(console_user)]
Writer = Annotated[ConsoleUser, Depends(writer)]
LOG_SIZE = 50


@router.get("/console/notifications")
def notifications(request: Request, user: User, page_no: int = 1) -> Response:
    c = container(request)
    ns = user.namespace
    channels = c.notifications.list_channels(
        ListQuery(namespace=ns, include_disabled=True, order_by="createdAt", page_size=1000)
    ).items
    rules = c.notifications.list_rules(
        ListQuery(namespace=ns, include_disabled=True, order_by="createdAt", page_size=1000)
    ).items
    log, rule_by_id = c.notifications.list_events(
        EventQuery(
            namespace=ns,
            order_by="createdAt",
            order_desc=True,
            page=max(page_no, 1),
            page_size=LOG_SIZE,
        )
    )
    return page(
        request,
        "notifications.html",
        channels=channels,
        channel_names={ch.id: ch.name for ch in channels},
        rules=rules,
        log=log,
        rule_by_id=rule_by_id,
        page_no=log.page,
        pages=max(1, -(-log.total // LOG_SIZE)),
        sent=request.query_params.get("sent", ""),
    )


@router.post("/console/notifications/events/{event_id}/resend", dependencies=[Depends(form)])
def resend(request: Request, user: Writer, event_id: str) -> Response:
    container(request).notifications.resend(user.namespace, event_id, None)
    return RedirectResponse("/console/notifications?sent=resend", status_code=303)


@router.post("/console/notifications/rules/{rule_id}/test", dependencies=[Depends(form)])
def test_rule(request: Request, user: Writer, rule_id: str) -> Response:
    container(request).notifications.test_rule(user.namespace, rule_id)
    return RedirectResponse("/console/notifications?sent=test", status_code=303)
