"""Every router of the compatibility layers, for the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from meterd.api.compat import vayu_auth, vayu_customers, vayu_events, vayu_meters

ROUTERS: list[APIRouter] = [
    vayu_auth.router,
    vayu_events.router,
    vayu_customers.router,
    vayu_meters.router,
]
