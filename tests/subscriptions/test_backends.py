"""One subscription's whole life through the service, on every state-store backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from meterd.bootstrap import Container, build
from meterd.core.clock import FrozenClock
from meterd.settings import Settings
from meterd.storage.sql import SqlStateStore
from tests.storage.conftest import PG_ENV, _wipe_postgres
from tests.subscriptions.support import ANCHOR, Api, plan_body


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ),
    ]
)
def backend_api(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Api]:
    url = None
    if request.param == "postgresql":
        url = os.environ[PG_ENV]
        _wipe_postgres(url)
        # The server refuses an unmigrated PostgreSQL; opening the store migrates it.
        SqlStateStore(url).close()
    c: Container = build(
        Settings(data_dir=tmp_path / "data", database_url=url, worker=False), clock
    )
    try:
        api = Api(c)
        meter = {"slug": "tokens", "aggregation": "SUM", "eventType": "p", "valueProperty": "$.t"}
        api.ok("POST", "/api/v1/meters", meter, 201)
        feature = {"key": "tokens", "name": "Tokens", "meterSlug": "tokens"}
        api.ok("POST", "/api/v1/features", feature, 201)
        api.ok("POST", "/api/v1/features", {"key": "sso", "name": "SSO"}, 201)
        api.ok("POST", "/api/v1/features", {"key": "limits", "name": "Limits"}, 201)
        customer = {"name": "Acme", "key": "acme", "usageAttribution": {"subjectKeys": ["acme"]}}
        api.ok("POST", "/api/v1/customers", customer, 201)
        yield api
    finally:
        c.close()


def test_subscription_life_and_entitlements(backend_api: Api, clock: FrozenClock) -> None:
    api = backend_api
    svc = api.c.subscriptions
    api.publish(plan_body("pro", base="50"))
    api.publish(plan_body("lite", base="5", trial=False))
    body = {"customerKey": "acme", "plan": {"key": "pro"}, "billingAnchor": ANCHOR.isoformat()}
    sub = api.ok("POST", "/api/v1/subscriptions", body, 201)
    assert set(api.access("acme")) == {"sso"}
    view = svc.get_view("ns", sub["id"])
    assert [p.key for p in view.phases] == ["trial", "default"]
    clock.advance(timedelta(days=31))
    svc.sync_due()
    assert set(api.access("acme")) == {"tokens", "limits"}
    out = api.ok("POST", f"/api/v1/subscriptions/{sub['id']}/change", {"plan": {"key": "lite"}})
    assert out["next"]["status"] == "scheduled"
    assert [v.id for v in svc.views_for_customer("ns", view.customer_id)] == [
        sub["id"],
        out["next"]["id"],
    ]
    clock.set(view.billing_anchor + timedelta(days=61, hours=1))
    svc.sync_due()
    got = api.ok("GET", f"/api/v1/subscriptions/{out['next']['id']}")
    assert got["status"] == "active"
    assert set(api.access("acme")) == {"tokens", "limits"}
    ended = api.ok("POST", f"/api/v1/subscriptions/{got['id']}/cancel", {"timing": "immediate"})
    assert ended["status"] == "inactive"
    assert api.access("acme") == {}
    page = api.ok("GET", "/api/v1/customers/acme/subscriptions?orderBy=activeFrom&order=DESC")
    assert [s["id"] for s in page["items"]] == [got["id"], sub["id"]]
