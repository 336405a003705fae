"""Fixtures: a real state store on every available backend, services over it.

SQLite always runs (on a file, as in production); PostgreSQL runs when
METERD_TEST_POSTGRES_URL points at a database the tests may wipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from meterd.core.clock import FrozenClock
from meterd.domain.notifications import (
    ChannelInput,
    DeliveryService,
    NotificationService,
    RetryPolicy,
    RuleInput,
)
from meterd.storage.sql import SqlStateStore
from meterd.storage.sql.engine import create_state_engine

PG_ENV = "METERD_TEST_POSTGRES_URL"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NS = "acme"


def wipe_postgres(url: str) -> None:
    """Drop every table, including ones of contexts this checkout does not know."""
    engine = create_state_engine(url)
    try:
        with engine.begin() as conn:
            names = inspect(conn).get_table_names()
            for name in names:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    finally:
        engine.dispose()


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite3'}"
    url = os.environ[PG_ENV]
    wipe_postgres(url)
    return url


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStateStore]:
    s = SqlStateStore(store_url(request.param, tmp_path))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@dataclass
class Kit:
    """The services of the context over one store and one frozen clock."""

    store: SqlStateStore
    clock: FrozenClock
    service: NotificationService
    deliveries: DeliveryService

    def channel(self, url: str = "http://127.0.0.1:9/hook", **kw: object) -> str:
        inp = ChannelInput(type="WEBHOOK", name=str(kw.pop("name", "hook")), url=url, **kw)
        return self.service.create_channel(NS, inp).id

    def rule(self, channels: list[str], type: str = "invoice.created", **kw: object) -> str:
        inp = RuleInput(type=type, name=str(kw.pop("name", "rule")), channels=channels, **kw)
        return self.service.create_rule(NS, inp).id


@pytest.fixture
def kit(store: SqlStateStore, clock: FrozenClock) -> Kit:
    service = NotificationService(store, clock, retry_window=timedelta(hours=24))
    # Jitter pinned to its top so delays are exactly base * 2**(n-1).
    deliveries = DeliveryService(
        store,
        clock,
        policy=RetryPolicy(base=timedelta(seconds=10), cap=timedelta(hours=1)),
        lease=timedelta(seconds=60),
        jitter=lambda: 1.0,
    )
    return Kit(store, clock, service, deliveries)
