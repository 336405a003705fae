"""The web console (``/console/``) and customer portal (``/portal/``) pages.

Server-rendered HTML over the domain services; charts are inline SVG and the
only script is a small file served from here, so pages work offline.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from meterd.web import (
    console_auth,
    console_catalog,
    console_customers,
    console_home,
    console_invoices,
    console_keys,
    console_meters,
    console_notifications,
    console_subscriptions,
    portal_pages,
)
from meterd.web.session import Signer
from meterd.web.stats import RateSampler


def install(app: FastAPI, secret: bytes = b"") -> None:
    """Add the pages to ``app``.

    ``secret`` signs console sessions; without one, sessions last only as
    long as this process.
    """
    app.state.web_signer = Signer(secret or secrets.token_bytes(32))
    app.state.web_rates = RateSampler()
    app.mount(
        "/console/static",
        StaticFiles(packages=[("meterd.web", "static")]),
        name="web-static",
    )

    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    for module in (
        console_auth,
        console_home,
        console_customers,
        console_meters,
        console_catalog,
        console_subscriptions,
        console_invoices,
        console_notifications,
        console_keys,
        portal_pages,
    ):
        app.include_router(module.router)
