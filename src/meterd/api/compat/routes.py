"""Every router of the compatibility layers, for the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from meterd.api.compat import (
    lotus_access,
    lotus_credits,
    lotus_customers,
    lotus_subscriptions,
    lotus_track,
    vayu_auth,
    vayu_billing,
    vayu_contracts,
    vayu_customers,
    vayu_events,
    vayu_meters,
    vayu_webhooks,
)

ROUTERS: list[APIRouter] = [
    lotus_track.router,
    lotus_customers.router,
    lotus_access.router,
    lotus_subscriptions.router,
    lotus_credits.router,
    vayu_auth.router,
    vayu_events.router,
    vayu_customers.router,
    vayu_meters.router,
    vayu_contracts.router,
    vayu_webhooks.router,
    vayu_billing.router,
]
