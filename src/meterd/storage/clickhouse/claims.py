"""Exact dedupe claims for ClickHouse writers in several processes, kept in PostgreSQL.

ClickHouse has no unique constraint, so two servers that receive the same
(namespace, source, id) at the same moment could both find it unclaimed in
``event_keys`` and both store it. With a claim store, an append instead:

1. opens a PostgreSQL transaction and locks the single ``commit_clock`` row,
   moving it past the clock and its previous value: that is the rows'
   ``stored_at``, strictly increasing across processes;
2. inserts its keys into ``claims`` with ``ON CONFLICT``: only the keys this
   transaction inserted are new, and a concurrent writer of the same key
   waits on the row lock and then finds it taken;
3. inserts the winning events into ClickHouse, and commits the transaction
   only after ClickHouse acknowledged them.

A crash before step 3 ends rolls the claims back, so a retry stores the event
then. A crash after ClickHouse stored the rows but before the commit leaves
rows without claims; the client's retry stores identical rows, which
``FINAL`` reads as one. Commits happen in ``stored_at`` order, so a reader
that saw ``stored_at`` up to W has seen every row stored at or before W.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError

Key = tuple[str, str, str]
# Arbitrary: the advisory lock under which processes create the tables.
_SETUP_LOCK = 0x6D65746572640C01


def _conninfo(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "meterd_clickhouse")
    if not schema.isidentifier():
        raise UnavailableError(f"not a schema name: {schema!r}")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment)), schema


class PgClaims:
    def __init__(self, url: str, clock: Clock, window: timedelta | None) -> None:
        import psycopg

        conninfo, self._schema = _conninfo(url)
        try:
            self._conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise UnavailableError(f"cannot reach the claim store: {exc}") from exc
        self._conn.execute("SET TimeZone TO 'UTC'")
        self._clock = clock
        self._window = window
        s = self._schema
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SETUP_LOCK])
            self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.claims (namespace text NOT NULL, "
                "source text NOT NULL, id text NOT NULL, stored_at timestamptz NOT NULL, "
                "PRIMARY KEY (namespace, source, id))"
            )
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.commit_clock (one boolean PRIMARY KEY "
                "DEFAULT true CHECK (one), stored_at timestamptz NOT NULL)"
            )
            self._conn.execute(
                f"INSERT INTO {s}.commit_clock (stored_at) VALUES ('-infinity') "
                "ON CONFLICT DO NOTHING"
            )

    @contextmanager
    def claim(self, keys: list[Key]) -> Iterator[tuple[set[Key], datetime]]:
        """Claim ``keys`` (distinct); yields the ones won and the commit's ``stored_at``.

        The claims commit when the block exits normally and roll back if it raises.
        """
        import psycopg

        s = self._schema
        now = self._clock.now()
        conflict = "DO NOTHING"
        params: list[object] = [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]]
        if self._window is not None:
            # An expired claim is taken over as if it were absent.
            conflict = (
                f"DO UPDATE SET stored_at = EXCLUDED.stored_at WHERE {s}.claims.stored_at < %s"
            )
            params.append(now - self._window)
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.execute(
                    f"UPDATE {s}.commit_clock SET stored_at = "
                    "greatest(stored_at + interval '1 microsecond', %s) RETURNING stored_at",
                    [now],
                )
                row = cur.fetchone()
                assert row is not None
                stored_at: datetime = row[0]
                cur.execute(
                    f"INSERT INTO {s}.claims (namespace, source, id, stored_at) "
                    "SELECT n, src, i, %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
                    f"AS k(n, src, i) ON CONFLICT (namespace, source, id) {conflict} "
                    "RETURNING namespace, source, id",
                    [stored_at, *params],
                )
                won = {(r[0], r[1], r[2]) for r in cur.fetchall()}
                yield won, stored_at
        except psycopg.OperationalError as exc:
            raise UnavailableError(f"claim store failed: {exc}") from exc

    def release(self, namespace: str, keys: list[tuple[str, str]]) -> None:
        """Forget the claims of deleted events, so their keys may be sent again."""
        self._conn.execute(
            f"DELETE FROM {self._schema}.claims WHERE namespace = %s AND (source, id) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            [namespace, [k[0] for k in keys], [k[1] for k in keys]],
        )

    def forget_expired(self) -> int:
        if self._window is None:
            return 0
        cur = self._conn.execute(
            f"DELETE FROM {self._schema}.claims WHERE stored_at < %s",
            [self._clock.now() - self._window],
        )
        return max(cur.rowcount, 0)

    def close(self) -> None:
        self._conn.close()
