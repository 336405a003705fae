"""Applying and checking the event store schema; adding monthly partitions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import psycopg
import psycopg.errors

from meterd.storage.postgres_events.schema import (
    LATEST,
    MIGRATION_LOCK,
    MIGRATIONS,
    PARTITION_LOCK,
    VERSION,
    month_of,
    parse_partition,
    partition_ddl,
    partition_months,
    unmigrated,
    version_sql,
)

Month = tuple[int, int]
log = logging.getLogger("meterd.storage")


def current_version(conn: psycopg.Connection, schema: str) -> int | None:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.{VERSION}"]).fetchone()
    if not row or not row[0]:
        return None
    found = conn.execute(version_sql(schema)).fetchone()
    return int(found[0]) if found and found[0] is not None else None


def require_current(conn: psycopg.Connection, schema: str) -> None:
    error = unmigrated(schema, current_version(conn, schema))
    if error is not None:
        raise error


def migrate(conn: psycopg.Connection, schema: str) -> int:
    """Apply pending migrations in one transaction; returns how many ran."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{VERSION} (version int PRIMARY KEY)")
        found = current_version(conn, schema) or 0
        error = unmigrated(schema, found)
        if error is not None and found > LATEST:
            raise error
        for version in range(found + 1, LATEST + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement.replace("{s}", schema))
            conn.execute(f"INSERT INTO {schema}.{VERSION} (version) VALUES (%s)", [version])
        return LATEST - found


def existing_months(conn: psycopg.Connection, schema: str) -> set[Month]:
    rows = conn.execute(partition_months(schema)).fetchall()
    return {m for (name,) in rows if (m := parse_partition(name)) is not None}


def ensure_months(
    conn: psycopg.Connection, schema: str, months: Iterable[Month], known: set[Month]
) -> set[Month]:
    """Create the missing monthly partitions; returns the months now known to exist.

    Other processes may add the same month at the same time: the advisory
    lock makes them take turns, and ``IF NOT EXISTS`` lets the later one
    find the partition made.
    """
    missing = sorted(set(months) - known)
    if not missing:
        return set()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITION_LOCK])
        for year, month in missing:
            try:
                with conn.transaction():
                    conn.execute(partition_ddl(schema, year, month))
            except psycopg.errors.CheckViolation:
                # The default partition already holds events of this month
                # (it was detached while events kept arriving): they stay
                # there, and so do new ones; reads see both the same way.
                log.warning("events of %04d-%02d stay in %s.events_other", year, month, schema)
    return set(missing)


def months_around(now: datetime) -> set[Month]:
    """This month, the one before and the next two: made ahead of the traffic.

    Adding a partition briefly locks the whole table, so it is better done
    at start-up than on the first event of a new month.
    """
    here = month_of(now)
    if here is None:
        return set()
    year, month = here
    out: set[Month] = set()
    for delta in (-1, 0, 1, 2):
        index = year * 12 + month - 1 + delta
        out.add((index // 12, index % 12 + 1))
    return out
