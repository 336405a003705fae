"""A small thread-safe pool of psycopg connections.

Connections run in autocommit mode with the session time zone set to UTC;
writers open explicit transactions. Driver errors that mean "the database
is not there" become UnavailableError, the one error the API maps to 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from meterd.core.errors import UnavailableError


def split_url(url: str) -> tuple[str, str | None]:
    """A libpq URL for ``url`` (driver suffix dropped) and its ``schema`` parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    kept = [(k, v) for k, v in query if k != "schema"]
    if not any(k == "application_name" for k, _ in kept):
        # Operators find meterd's sessions in pg_stat_activity by this name.
        kept.append(("application_name", "meterd"))
    rest = urlencode(kept)
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, parts.fragment)), schema


class Pool:
    def __init__(self, conninfo: str, size: int) -> None:
        self._conninfo = conninfo
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self.closed = False

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise UnavailableError(f"cannot reach the PostgreSQL event store: {exc}") from exc
        conn.execute("SET TimeZone TO 'UTC'")
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if self.closed:
            raise UnavailableError("event store is closed")
        self._slots.acquire()
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            except psycopg.OperationalError as exc:
                conn.close()
                # The database most likely restarted or dropped us: the idle
                # connections are as dead as this one.
                self._drop_idle()
                raise UnavailableError(f"PostgreSQL event store failed: {exc}") from exc
            finally:
                if conn.closed or conn.broken or self.closed:
                    conn.close()
                else:
                    with self._lock:
                        self._idle.append(conn)
        finally:
            self._slots.release()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        self.closed = True
        self._drop_idle()
