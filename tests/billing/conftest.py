"""An in-process meterd with a frozen clock, for the billing engine's tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from meterd.api.app import create_app, wrap
from meterd.bootstrap import Container, build, open_state
from meterd.core.clock import FrozenClock
from meterd.settings import Settings
from meterd.storage.sql.schema import metadata
from meterd.workers.billing import BillingWorker
from tests.support import stack

START = datetime(2024, 1, 1, tzinfo=UTC)


class Billing:
    """A container, an admin key and an HTTP client bound to the app."""

    def __init__(self, container: Container, clock: FrozenClock) -> None:
        self.c = container
        self.clock = clock
        self.token = container.auth.create_key("ns", "admin", "admin")[1]
        self.app = wrap(create_app(container))
        worker = next(b for b in container.background if isinstance(b, BillingWorker))
        self.worker: BillingWorker = worker

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            headers = {"Authorization": f"Bearer {self.token}"}
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://meterd") as cl:
                return await cl.request(method, path, json=body, headers=headers, params=params)

        return asyncio.run(go())

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **params: Any) -> Any:
        r = self.call(method, path, body, **params)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    def meter(self, slug: str, aggregation: str = "SUM") -> None:
        body = {"slug": slug, "aggregation": aggregation, "eventType": slug}
        if aggregation != "COUNT":
            body["valueProperty"] = "$.value"
        self.ok("POST", "/api/v1/meters", body, 201)
        self.ok("POST", "/api/v1/features", {"key": slug, "name": slug, "meterSlug": slug}, 201)

    def customer(self, key: str, currency: str = "USD") -> str:
        body = {"name": key.title(), "key": key, "currency": currency,
                "usageAttribution": {"subjectKeys": [key]}}  # fmt: skip
        return str(self.ok("POST", "/api/v1/customers", body, 201)["id"])

    def events(self, slug: str, subject: str, *values: tuple[datetime, float | int | str]) -> None:
        batch = [
            {"specversion": "1.0", "id": f"{slug}-{subject}-{i}-{at.isoformat()}-{v}",
             "source": "test", "type": slug, "subject": subject,
             "time": at.isoformat().replace("+00:00", "Z"), "data": {"value": v}}
            for i, (at, v) in enumerate(values)
        ]  # fmt: skip
        r = self.call("POST", "/api/v1/events", batch)
        assert r.status_code == 204, r.text
        self.c.event_store.flush() if hasattr(self.c.event_store, "flush") else None

    def pending(self, customer: str, *lines: dict[str, Any], currency: str = "USD") -> Any:
        body = {"currency": currency, "lines": list(lines)}
        return self.ok(
            "POST", f"/api/v1/billing/customers/{customer}/invoices/pending-lines", body, 201
        )

    def invoice_now(self, customer: str, **extra: Any) -> list[dict[str, Any]]:
        body = {"customerId": customer, **extra}
        return list(self.ok("POST", "/api/v1/billing/invoices/invoice", body, 201))


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def line(
    name: str, start: datetime, end: datetime, price: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {"name": name, "period": {"from": iso(start), "to": iso(end)},
            "invoiceAt": iso(end), "price": price, **extra}  # fmt: skip


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2024, 3, 1, tzinfo=UTC))


PG = os.environ.get("METERD_TEST_POSTGRES_URL")
STATE_BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.skipif(not PG, reason="METERD_TEST_POSTGRES_URL not set"),
            # Under a PostgreSQL METERD_TEST_STACK the first case already runs there.
            pytest.mark.skipif(not stack.is_embedded(), reason="covered by METERD_TEST_STACK"),
        ],
    ),
]


def fresh_postgres(url: str) -> None:
    """No state tables, so each test migrates from nothing (as the storage tests do)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), "alembic_version"]:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(params=STATE_BACKENDS)
def billing(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[Billing]:
    settings = stack.settings(data_dir=tmp_path / "data", worker=False)
    if request.param == "postgresql":
        assert PG is not None
        fresh_postgres(PG)
        settings = Settings(data_dir=tmp_path / "data", worker=False, database_url=PG)
        open_state(settings, migrate=True).close()
    container = build(settings, clock)
    try:
        yield Billing(container, clock)
    finally:
        container.close()
