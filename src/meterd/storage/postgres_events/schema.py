"""Tables of the PostgreSQL event store, their migrations and partitions.

Everything lives in one schema (``meterd_events`` unless the URL names
another with ``?schema=``):

* ``events``: every stored event, range-partitioned by month of ``time``, so
  queries over a period read only its months and old months can be detached
  and archived whole. Months from 2000 to 2100 get partitions of their own;
  times outside that go to ``events_other``.
* ``event_keys``: one row per (namespace, source, id): the dedupe claim. A
  partitioned table's unique keys must include the partition key, so the
  claim cannot be a constraint on ``events`` itself; it is written in the
  same transaction as the rows, so both commit or neither does. It keeps the
  event's ``time``, which finds the row (and its partition) for a deletion.
* ``commit_clock``: one row whose lock orders commits (see ``store``).
* ``schema_version``: which migrations ran. ``meterd migrate`` applies them;
  servers refuse to open an older schema.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from meterd.core.errors import NotSupportedError, UnavailableError

EVENTS = "events"
KEYS = "event_keys"
CLOCK = "commit_clock"
VERSION = "schema_version"
DEFAULT_SCHEMA = "meterd_events"
FIRST_YEAR, END_YEAR = 2000, 2100
# Arbitrary constants: the advisory locks under which processes migrate and
# add partitions, one after another.
MIGRATION_LOCK = 0x6D65746572640002
PARTITION_LOCK = 0x6D65746572640003

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise NotSupportedError(
            f"event store schema {name!r} must be a lower-case SQL identifier "
            "(letters, digits, underscores)"
        )
    return name


def _text(name: str) -> str:
    return f'{name} text COLLATE "C" NOT NULL'


# Each entry is one schema version; never edit a released one, append.
MIGRATIONS: list[list[str]] = [
    [
        f"""CREATE TABLE {{s}}.{EVENTS} (
            {_text("namespace")}, {_text("id")}, {_text("source")}, {_text("specversion")},
            {_text("type")}, {_text("subject")},
            time timestamptz NOT NULL,
            data json,
            datacontenttype text,
            dataschema text,
            ingested_at timestamptz NOT NULL,
            stored_at timestamptz NOT NULL
        ) PARTITION BY RANGE (time)""",
        f"CREATE TABLE {{s}}.events_other PARTITION OF {{s}}.{EVENTS} DEFAULT",
        # Meter queries and access checks: one namespace, type and subject
        # over a time range.
        f"CREATE INDEX ON {{s}}.{EVENTS} (namespace, type, subject, time)",
        # Event listings: newest first within a namespace.
        f"CREATE INDEX ON {{s}}.{EVENTS} (namespace, time, source, id)",
        f"""CREATE TABLE {{s}}.{KEYS} (
            {_text("namespace")}, {_text("source")}, {_text("id")},
            time timestamptz NOT NULL,
            stored_at timestamptz NOT NULL,
            PRIMARY KEY (namespace, source, id)
        )""",
        f"CREATE INDEX ON {{s}}.{KEYS} (stored_at)",
        f"""CREATE TABLE {{s}}.{CLOCK} (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            stored_at timestamptz NOT NULL
        )""",
        f"INSERT INTO {{s}}.{CLOCK} (stored_at) VALUES ('-infinity')",
    ],
]
LATEST = len(MIGRATIONS)


def version_sql(schema: str) -> str:
    return f"SELECT max(version) FROM {schema}.{VERSION}"


def unmigrated(schema: str, found: int | None) -> UnavailableError | None:
    """The error for a schema at version ``found``, or None when it is current."""
    if found == LATEST:
        return None
    if found is not None and found > LATEST:
        return UnavailableError(
            f"the PostgreSQL event store (schema {schema}) is at version {found}, newer "
            f"than this meterd knows ({LATEST}); upgrade meterd"
        )
    return UnavailableError(
        f"the PostgreSQL event store (schema {schema}) is not migrated "
        f"(version {found or 0} of {LATEST}); run `meterd migrate` first"
    )


def month_of(t: datetime) -> tuple[int, int] | None:
    """The (year, month) partition holding instant ``t``; None for ``events_other``."""
    u = t.astimezone(UTC)
    return (u.year, u.month) if FIRST_YEAR <= u.year < END_YEAR else None


def partition_ddl(schema: str, year: int, month: int) -> str:
    lo = datetime(year, month, 1, tzinfo=UTC)
    hi = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (
        f"CREATE TABLE IF NOT EXISTS {schema}.events_y{year:04d}m{month:02d} "
        f"PARTITION OF {schema}.{EVENTS} "
        f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
    )


def partition_months(schema: str) -> str:
    """SQL listing the monthly partitions that exist, by name."""
    return (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        f"WHERE n.nspname = '{schema}' AND p.relname = '{EVENTS}'"
    )


def parse_partition(name: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"events_y(\d{4})m(\d{2})", name)
    return (int(m.group(1)), int(m.group(2))) if m else None
