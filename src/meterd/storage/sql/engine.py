"""Engine set-up and schema migration for the state store."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

# Execution option read by the SQLite ``begin`` hook: which BEGIN to emit.
BEGIN_MODE = "meterd_sqlite_begin"
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE"})

BUSY_TIMEOUT_MS = 5000
SCRIPT_LOCATION = "meterd.storage.sql:migrations"
# Arbitrary constant: every meterd process migrating one PostgreSQL database
# takes this advisory lock, so they upgrade one after another.
_PG_MIGRATION_LOCK = 0x6D65746572640001

# Serialises migrations between stores of this process: alembic keeps the
# migration context in module globals while it runs.
_migrate_lock = threading.Lock()


def is_memory_sqlite(url: URL) -> bool:
    db = url.database or ""
    return db in ("", ":memory:") or url.query.get("mode") == "memory"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN handling is switched off so that the
    # ``begin`` hook decides the mode; otherwise SELECTs run outside any
    # transaction and writers cannot take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout goes first so that switching to WAL waits for other
        # processes instead of failing.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL fsyncs the WAL on every commit: a committed meter or key
        # survives power loss, which NORMAL does not promise.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_state_engine(url: str) -> Engine:
    """An engine for ``sqlite:///PATH`` or ``postgresql://...`` URLs."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if is_memory_sqlite(parsed):
            # A private in-memory database exists once per connection, so all
            # threads must share one; the store serialises access to it.
            kwargs["poolclass"] = StaticPool
        elif parsed.database and not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg"):
            # A bare scheme means psycopg2 to SQLAlchemy; prefer the maintained
            # psycopg 3 when it is the one installed.
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise ValueError(f"unsupported state store URL scheme {parsed.drivername!r}")


def alembic_config() -> Config:
    """Alembic settings for the packaged migrations; no ini file needed."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the schema to every head inside one transaction.

    Each bounded context owns a migration branch off the initial revision
    (``branch_labels``), so contexts evolve their tables independently.

    The transaction takes the database's write lock (SQLite) or an advisory
    lock (PostgreSQL) before alembic reads the current revision, so processes
    opening the same database at once cannot both apply a migration.
    """
    config = alembic_config()
    with _migrate_lock, engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "heads")
