"""The stacks ``bench/scaleout.py`` compares, and the one event data set they share.

A stack is a state store plus an event store, named by the ``METERD_*``
settings a ``meterd serve`` gets. Each PostgreSQL-backed deployment lives in a
database of its own, created here, migrated with ``meterd migrate`` and
dropped when the run ends, so nothing is left behind on the server.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import msgspec

# The bench folder is not a package; its scripts import their siblings directly.
from common import console, dir_size_mb, meterd_cli
from meterd.core.clock import SystemClock
from meterd.domain.events import EventBatch
from meterd.storage.postgres_events.pool import split_url
from query import _settle, make_batch

# name on the command line -> column title
STACKS = {
    "embedded": "embedded",
    "postgres": "PostgreSQL",
    "pg-chdb": "PG + chdb",
}
# Events per append (one commit) in the bulk load: what each store was built
# to take in one go, as the earlier per-store scripts loaded them.
COMMIT_EVENTS = {"embedded": 250_000, "postgres": 50_000, "pg-chdb": 100_000}
PG_EVENTS_SCHEMA = "meterd_events"


class Appender(Protocol):
    def append(self, batches: list[EventBatch]) -> list[int]: ...

    def close(self) -> None: ...


class PgDatabases:
    """Throwaway databases on one PostgreSQL server, all dropped by ``drop_all``."""

    def __init__(self, url: str) -> None:
        self.admin, _ = split_url(url)
        self.prefix = "meterd_bench_" + secrets.token_hex(3)
        self.created: list[str] = []

    def _run(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql)

    def create(self, suffix: str) -> str:
        """A new empty database; returns its URL."""
        name = f"{self.prefix}_{suffix}"
        self._run(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urlsplit(self.admin)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@dataclass
class Deployment:
    """One stack's stores for one phase of the run, and the settings naming them."""

    stack: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    database: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def chdb_dir(self) -> Path:
        return self.root / "chdb"

    def open_events(self) -> Appender:
        """The event store in this process, for the bulk load (no server running)."""
        clock = SystemClock()
        if self.stack == "embedded":
            from meterd.storage.duckdb.store import DuckDBEventStore

            return DuckDBEventStore(str(self.data_dir / "events.duckdb"), clock)
        if self.stack == "postgres":
            from meterd.storage.postgres_events import PostgresEventStore

            return PostgresEventStore(self.env["METERD_EVENTS_URL"], clock)
        from meterd.storage.clickhouse import ClickHouseEventStore

        return ClickHouseEventStore(self.env["METERD_EVENTS_URL"], clock)

    def analyze(self) -> None:
        """Statistics for PostgreSQL's planner, as autovacuum gathers after a load."""
        if self.stack != "postgres" or self.database is None:
            return
        import psycopg

        with psycopg.connect(split_url(self.database)[0], autocommit=True) as conn:
            for (table,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", [PG_EVENTS_SCHEMA]
            ).fetchall():
                conn.execute(f'ANALYZE {PG_EVENTS_SCHEMA}."{table}"')

    def events_mb(self) -> float:
        """Space the events take: their file, directory or schema (indexes included)."""
        if self.stack == "embedded":
            return dir_size_mb(self.data_dir, "events.duckdb*")
        if self.stack == "pg-chdb":
            return dir_size_mb(self.chdb_dir)
        import psycopg

        assert self.database is not None
        with psycopg.connect(split_url(self.database)[0]) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
                [PG_EVENTS_SCHEMA],
            ).fetchone()
        return (int(row[0]) if row else 0) / 2**20


def deploy(stack: str, root: Path, pg: PgDatabases | None, phase: str) -> Deployment:
    """Fresh, migrated stores for ``stack``; ``phase`` keeps names apart."""
    dep = Deployment(stack, root)
    dep.data_dir.mkdir(parents=True)
    if stack == "embedded":
        return dep  # serve creates and migrates the embedded stores itself
    if pg is None:
        raise SystemExit(f"the {stack} stack needs --postgres-url")
    dep.database = pg.create(f"{stack.replace('-', '_')}_{phase}")
    dep.env["METERD_DATABASE_URL"] = dep.database
    if stack == "postgres":
        dep.env["METERD_EVENTS_URL"] = f"{dep.database}?schema={PG_EVENTS_SCHEMA}"
    else:
        dep.env["METERD_EVENTS_URL"] = f"chdb://{dep.chdb_dir.resolve()}"
    meterd_cli("migrate", "--data-dir", str(dep.data_dir), extra_env=dep.env)
    return dep


class Spool:
    """The generated events, written once and read back for every stack.

    Chunks of ``bench/query.py``'s ``make_batch`` go to one file as compressed
    msgpack, so every store gets the same events and no more than a commit's
    worth is in memory at a time.
    """

    def __init__(self, path: Path, total: int, subjects: int, chunk: int = 50_000) -> None:
        self.path = path
        self.total = total
        encoder = msgspec.msgpack.Encoder()
        ingested_at = datetime.now(UTC)
        t0 = time.perf_counter()
        with path.open("wb") as f:
            for lo in range(0, total, chunk):
                batch = make_batch(lo, min(lo + chunk, total), total, subjects, ingested_at)
                blob = zlib.compress(encoder.encode(batch), 1)
                f.write(len(blob).to_bytes(8, "little"))
                f.write(blob)
        self.seconds = time.perf_counter() - t0
        self.mb = path.stat().st_size / 2**20

    def groups(self, events: int) -> Iterator[list[EventBatch]]:
        """The chunks in order, gathered into lists of about ``events`` events."""
        decoder = msgspec.msgpack.Decoder(EventBatch)
        group: list[EventBatch] = []
        size = 0
        with self.path.open("rb") as f:
            while header := f.read(8):
                batch = decoder.decode(zlib.decompress(f.read(int.from_bytes(header, "little"))))
                group.append(batch)
                size += len(batch)
                if size >= events:
                    yield group
                    group, size = [], 0
        if group:
            yield group


def bulk_load(dep: Deployment, spool: Spool) -> dict[str, Any]:
    """Append the spooled events into ``dep``'s store in large commits; events/s.

    The next commit's events are read while the store writes the current one.
    The wall time includes letting the store settle and close (DuckDB compacts
    recent appends, as an idle server would), so the server starts on a store
    at rest; PostgreSQL's ANALYZE comes after the clock stops.
    """
    store = dep.open_events()
    stored = 0
    t0 = last = time.perf_counter()
    groups = spool.groups(COMMIT_EVENTS[dep.stack])
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            nxt = pool.submit(next, groups, None)
            while (current := nxt.result()) is not None:
                nxt = pool.submit(next, groups, None)
                stored += sum(store.append(current))
                if time.perf_counter() - last > 15:
                    last = time.perf_counter()
                    console.print(f"  {stored:,} events ({stored / (last - t0):,.0f}/s)")
    except BaseException:
        store.close()
        raise
    appended = time.perf_counter() - t0
    _settle(store)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    dep.analyze()
    return {"stored": stored, "wall": wall, "append_wall": appended, "rate": stored / wall}
