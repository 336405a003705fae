"""Fixtures and builders shared by the event-store conformance tests.

Imported explicitly by the test modules (not a conftest) so that the store
fixtures stay private to the event-store suite. Every backend in
``EVENT_BACKENDS`` must pass the same tests; each test gets a fresh store on
its own file and a frozen clock, so nothing depends on wall time.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest

from meterd.core.clock import FrozenClock
from meterd.core.errors import IssueCollector
from meterd.core.filters import StringFilter
from meterd.core.ids import new_ulid
from meterd.core.periods import WindowSize
from meterd.domain.events.models import EventBatch
from meterd.domain.events.ports import EventStore
from meterd.domain.meters.filters import parse_meter_filter
from meterd.domain.meters.models import Aggregation, Meter, MeterQuery
from meterd.domain.meters.ports import UsageReader

EVENT_BACKENDS = ["duckdb", "chdb", "clickhouse"]
# PostgreSQL joins when METERD_TEST_POSTGRES_URL points at a database the tests
# may write to; each test directory gets a schema of its own there.
PG_ENV = "METERD_TEST_POSTGRES_URL"
if os.environ.get(PG_ENV):
    EVENT_BACKENDS.append("postgres")
    # ClickHouse with its dedupe claims in PostgreSQL, as servers sharing one
    # ClickHouse run it.
    EVENT_BACKENDS.append("chdb-claims")
_RUN = secrets.token_hex(8)

# Far from the Unix epoch and from any DST change, so tests that care about
# either choose their own instants explicitly.
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class ConformantStore(EventStore, UsageReader, Protocol):
    """What every event backend offers: writes, reads, meter usage, key pruning."""

    def prune_keys(self) -> int: ...


def open_backend(
    backend: str, path: Path, clock: FrozenClock, dedupe_window: timedelta | None = None
) -> ConformantStore:
    if backend == "duckdb":
        from meterd.storage.duckdb.store import DuckDBEventStore

        return DuckDBEventStore(
            str(path / "events.duckdb"), clock, dedupe_window=dedupe_window, threads=2
        )
    if backend == "postgres":
        from meterd.storage.postgres_events import PostgresEventStore

        # Reopening the same directory reopens the same schema, as a restart
        # would; the run's token keeps a later run from meeting old schemas.
        key = f"{_RUN}:{path}".encode()
        schema = "t_" + hashlib.sha256(key).hexdigest()[:20]
        return PostgresEventStore(
            os.environ[PG_ENV], clock, dedupe_window=dedupe_window, schema=schema, migrate=True
        )
    if backend in ("chdb", "chdb-claims"):
        from meterd.storage.clickhouse import ClickHouseEventStore

        claims = None
        if backend == "chdb-claims":
            key = f"{_RUN}:{path}".encode()
            claims = f"{os.environ[PG_ENV]}?schema=c_{hashlib.sha256(key).hexdigest()[:20]}"
        # chdb serves one directory per process: every store a test opens
        # shares its directory, and the previous test's stores are closed.
        return ClickHouseEventStore(
            f"chdb://{path.resolve() / 'events.chdb'}",
            clock,
            dedupe_window=dedupe_window,
            claims_url=claims,
        )
    if backend == "clickhouse":
        from meterd.storage.clickhouse import ClickHouseEventStore

        # clickhouse:// over HTTP; each test directory gets a database of its own.
        database = "t_" + hashlib.sha256(f"{_RUN}:{path}".encode()).hexdigest()[:20]
        return ClickHouseEventStore(
            _clickhouse_http().url(database), clock, dedupe_window=dedupe_window
        )
    raise AssertionError(f"no conformance setup for backend {backend}")


_CLICKHOUSE: list[Any] = []


def _clickhouse_http() -> Any:
    """One ClickHouse HTTP front (over chdb) for the whole test run, started on first use."""
    if not _CLICKHOUSE:
        import atexit
        import tempfile

        from tests.support.clickhouse_http import ClickHouseHttp

        front = ClickHouseHttp(Path(tempfile.mkdtemp(prefix="meterd-ch-")) / "data").start()
        atexit.register(front.stop)
        _CLICKHOUSE.append(front)
    return _CLICKHOUSE[0]


@dataclass
class StoreFactory:
    """Opens stores on one test's private directory; closes them all at teardown."""

    backend: str
    directory: Path
    clock: FrozenClock
    opened: list[ConformantStore] = field(default_factory=list)

    def open(self, dedupe_window: timedelta | None = None) -> ConformantStore:
        store = open_backend(self.backend, self.directory, self.clock, dedupe_window)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in reversed(self.opened):
            store.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture(params=EVENT_BACKENDS)
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FrozenClock
) -> Iterator[StoreFactory]:
    factory = StoreFactory(request.param, tmp_path, clock)
    yield factory
    factory.close_all()


@pytest.fixture
def store(stores: StoreFactory) -> ConformantStore:
    return stores.open()


# -- building events ---------------------------------------------------------

ABSENT: Any = object()
"""``data`` value meaning the event carries no data object at all."""


@dataclass(frozen=True)
class Ev:
    """One event as a test writes it; ``data`` is a JSON-able value or raw JSON text."""

    id: str
    time: datetime
    subject: str = "subject-1"
    source: str = "test"
    type: str = "api_call"
    data: Any = ABSENT

    def data_text(self) -> str | None:
        if self.data is ABSENT:
            return None
        if isinstance(self.data, str):
            return self.data
        return json.dumps(self.data)

    def decoded(self) -> Any:
        text = self.data_text()
        return None if text is None else json.loads(text)


def make_batch(namespace: str, events: Sequence[Ev], ingested_at: datetime = T0) -> EventBatch:
    batch = EventBatch(namespace=namespace, ingested_at=ingested_at)
    for e in events:
        batch.ids.append(e.id)
        batch.sources.append(e.source)
        batch.specversions.append("1.0")
        batch.types.append(e.type)
        batch.subjects.append(e.subject)
        batch.times.append(e.time)
        batch.data.append(e.data_text())
        batch.datacontenttypes.append("application/json" if e.data is not ABSENT else None)
        batch.dataschemas.append(None)
    return batch


def new_namespace() -> str:
    return "ns-" + new_ulid().lower()


# -- building meters and queries ---------------------------------------------


def make_meter(
    namespace: str,
    aggregation: Aggregation,
    *,
    value_property: str | None = "$.value",
    event_type: str = "api_call",
    group_by: dict[str, str] | None = None,
    filter_spec: Any = None,
    event_from: datetime | None = None,
) -> Meter:
    issues = IssueCollector()
    mfilter = parse_meter_filter(filter_spec, issues)
    assert not issues.issues, issues.issues
    return Meter(
        id=new_ulid(),
        namespace=namespace,
        slug="m_" + new_ulid().lower(),
        name="test meter",
        description=None,
        metadata={},
        aggregation=aggregation,
        event_type=event_type,
        event_from=event_from,
        value_property=None if aggregation is Aggregation.COUNT else value_property,
        group_by=group_by or {},
        filter=mfilter,
        created_at=T0,
        updated_at=T0,
    )


def make_query(
    meter: Meter,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    window_size: WindowSize | None = None,
    time_zone: str = "UTC",
    subjects: tuple[str, ...] | None = None,
    customers: dict[str, str] | None = None,
    group_by: tuple[str, ...] = (),
    group_by_subject: bool = False,
    group_by_customer: bool = False,
    filters: dict[str, StringFilter] | None = None,
) -> MeterQuery:
    return MeterQuery(
        namespace=meter.namespace,
        meter=meter,
        start=start,
        end=end,
        window_size=window_size,
        time_zone=time_zone,
        subjects=subjects,
        customers=customers,
        group_by=group_by,
        group_by_subject=group_by_subject,
        group_by_customer=group_by_customer,
        filters=filters or {},
    )
