"""Templates, formatting filters, and HTML error pages for the web routes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from meterd.core import errors as e
from meterd.core.money import format_decimal

STATUS: list[tuple[type[e.MeterdError], int]] = [
    (e.ValidationError, 400),
    (e.AuthenticationError, 401),
    (e.ForbiddenError, 403),
    (e.NotFoundError, 404),
    (e.ConflictError, 409),
]


class Redirect(Exception):
    """Leave the page for another one (e.g. sign-in)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def num(value: Decimal | int | None) -> str:
    """A quantity with thousands separators and no exponent."""
    if value is None:
        return "—"
    return _grouped(format_decimal(Decimal(value).normalize()))


def money(value: Decimal | None) -> str:
    """An amount with at least two decimals, as invoices show money."""
    if value is None:
        return "—"
    v = Decimal(value).normalize()
    exponent = v.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        v = v.quantize(Decimal("0.01"))
    return _grouped(format(v, "f"))


def _grouped(text: str) -> str:
    whole, dot, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-') or 0):,}{dot}{frac}"


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d")


def local_input(value: datetime | None) -> str:
    """A UTC instant as the value of an ``<input type=datetime-local>``."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def query(params: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")}, doseq=True)


ENV = Environment(
    loader=PackageLoader("meterd.web", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(money=money, num=num, when=when, day=day, local_input=local_input, query=query)


# Everything a page loads comes from this server; inline SVG needs no source.
POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"


def page(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    embeddable: bool = False,
    **context: Any,
) -> HTMLResponse:
    """A rendered template; only ``embeddable`` pages may be framed by other sites."""
    context.setdefault("user", getattr(request.state, "console_user", None))
    context.setdefault("path", request.url.path)
    html = ENV.get_template(name).render(request=request, **context)
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": POLICY + ("" if embeddable else "; frame-ancestors 'none'"),
    }
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _status(exc: e.MeterdError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


class HtmlRoute(APIRoute):
    """Domain errors become HTML pages here rather than problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as r:
                return RedirectResponse(r.location, status_code=303)
            except e.MeterdError as exc:
                issues = exc.issues if isinstance(exc, e.ValidationError) else []
                return page(
                    request,
                    "error.html",
                    status_code=_status(exc),
                    detail=exc.detail,
                    issues=issues,
                )
            except RequestValidationError as exc:
                found = [
                    e.Issue(str(err.get("loc", ("?",))[-1]), "invalid", str(err.get("msg", "")))
                    for err in exc.errors()
                ]
                return page(
                    request, "error.html", status_code=400, detail="invalid request", issues=found
                )

        return route
