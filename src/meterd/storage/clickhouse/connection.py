"""Two ways to reach the ClickHouse engine, behind one small interface.

``clickhouse://user:pass@host:8123/db`` talks HTTP to a server or cluster
through clickhouse-connect; ``chdb:///PATH`` runs the same engine inside this
process. Statements use ClickHouse's server-side parameters
(``{name:Type}``), so the SQL text is identical for both. Parameters are
plain Python values: strings, integers, and lists of them. Instants travel as
epoch microseconds (``Int64``), which neither driver can round or shift.

chdb hosts one embedded engine per process, bound to one data directory: a
second directory can be opened only once every store on the first is closed.
chdb documents its connections as thread-safe, but every call still goes
through one lock per engine, so that a streaming insert never interleaves
with another statement on the shared connection.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import pyarrow as pa

from meterd.core.errors import NotSupportedError, UnavailableError

Params = dict[str, Any]
# Copies of one row share their sorting key, which holds ``time``, so they
# share their monthly partition: FINAL never needs to merge across partitions.
_FINAL = {"do_not_merge_across_partitions_select_final": 1}
# Strings come back as text, not bytes, and results are Arrow tables.
_ARROW_OUT = ", ".join(
    f"{k} = {v}" for k, v in {"output_format_arrow_string_as_string": 1, **_FINAL}.items()
)


class Driver(Protocol):
    database: str
    # True when other processes may write to the same tables.
    shared: bool
    cluster: str | None

    def command(self, sql: str, params: Params | None = None) -> None: ...

    def arrow(self, sql: str, params: Params | None = None) -> pa.Table: ...

    def insert(self, table: str, data: pa.Table) -> None: ...

    def close(self) -> None: ...


def rows(driver: Driver, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
    """Result rows as tuples of Python values (Decimal, str, int, lists)."""
    table = driver.arrow(sql, params)
    return list(zip(*(c.to_pylist() for c in table.columns), strict=True))


# -- parameters for chdb --------------------------------------------------------


def _escaped(text: str) -> str:
    # Parameters are parsed in ClickHouse's escaped text format.
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _quoted(text: str) -> str:
    body = text.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + body.replace("\t", "\\t").replace("\n", "\\n").replace("\0", "\\0") + "'"


def render_param(value: Any) -> str:
    """``value`` in the text form ClickHouse parses query parameters from."""
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Sequence):
        items = [_quoted(v) if isinstance(v, str) else str(int(v)) for v in value]
        return "[" + ",".join(items) + "]"
    raise TypeError(f"unsupported query parameter {value!r}")


# -- chdb ---------------------------------------------------------------------


@dataclass
class _Engine:
    path: str
    session: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: int = 0


_ENGINES_LOCK = threading.Lock()
_ENGINE: _Engine | None = None


def _acquire_engine(path: str) -> _Engine:
    global _ENGINE
    import chdb

    connect: Any = chdb.connect

    with _ENGINES_LOCK:
        if _ENGINE is not None and _ENGINE.path != path:
            raise UnavailableError(
                f"chdb already serves {_ENGINE.path} in this process; "
                f"one process opens one chdb directory at a time, not {path}"
            )
        if _ENGINE is None:
            try:
                _ENGINE = _Engine(path, connect(path))
            except Exception as exc:
                raise UnavailableError(f"cannot open chdb store {path}: {exc}") from exc
        _ENGINE.users += 1
        return _ENGINE


def _release_engine(engine: _Engine) -> None:
    global _ENGINE
    with _ENGINES_LOCK:
        engine.users -= 1
        if engine.users == 0:
            with engine.lock:
                engine.session.close()
            _ENGINE = None


class ChdbDriver:
    shared: bool = False
    cluster: str | None = None

    def __init__(self, path: str, database: str = "meterd") -> None:
        from pathlib import Path

        Path(path).mkdir(parents=True, exist_ok=True)
        self.database = database
        self._engine: _Engine | None = _acquire_engine(str(Path(path).resolve()))

    def _live(self) -> _Engine:
        if self._engine is None:
            raise UnavailableError("event store is closed")
        return self._engine

    def _run(self, sql: str, params: Params | None, fmt: str) -> Any:
        engine = self._live()
        rendered = {k: render_param(v) for k, v in (params or {}).items()}
        try:
            with engine.lock:
                return engine.session.query(sql, fmt, params=rendered)
        except Exception as exc:
            if type(exc).__name__ in ("ChdbError", "RuntimeError"):
                raise UnavailableError(f"chdb query failed: {exc}") from exc
            raise

    def command(self, sql: str, params: Params | None = None) -> None:
        self._run(sql, params, "CSV")

    def arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        table: pa.Table = self._run(f"{sql} SETTINGS {_ARROW_OUT}", params, "ArrowTable")
        return table

    def insert(self, table: str, data: pa.Table) -> None:
        engine = self._live()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        payload = sink.getvalue().to_pybytes()
        columns = ", ".join(data.column_names)
        with engine.lock:
            try:
                inserter = engine.session.send_insert(
                    f"INSERT INTO {self.database}.{table} ({columns})", "ArrowStream"
                )
            except RuntimeError as exc:
                raise UnavailableError(f"chdb insert failed: {exc}") from exc
            try:
                inserter.append(payload)
                inserter.finish()
            except BaseException as exc:
                inserter.cancel()
                if isinstance(exc, RuntimeError):
                    raise UnavailableError(f"chdb insert failed: {exc}") from exc
                raise

    def close(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            _release_engine(engine)


# -- clickhouse-connect ----------------------------------------------------------


def _identifier(name: str, what: str) -> str:
    # Database and cluster names are spliced into DDL and queries.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise NotSupportedError(f"ClickHouse {what} name must be a plain identifier, not {name!r}")
    return name


class HttpDriver:
    """A ClickHouse server or cluster over HTTP; other meterd processes may share it."""

    shared = True

    def __init__(self, url: str) -> None:
        import clickhouse_connect

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query.pop("claims", None)
        self.cluster = query.pop("cluster", None) or None
        secure = query.pop("secure", "") in ("1", "true")
        self.database = _identifier((parts.path or "/").strip("/") or "default", "database")
        if self.cluster is not None:
            _identifier(self.cluster, "cluster")
        # Any other query parameter is a ClickHouse setting for every
        # statement, e.g. insert_quorum=2 on a replicated cluster.
        self._settings: dict[str, Any] = {"async_insert": 0, **_FINAL}
        if self.cluster is not None:
            # Acknowledge an insert once the shards have it, not once it is
            # queued on the node that received it.
            self._settings["distributed_foreground_insert"] = 1
        self._settings.update(query)
        try:
            self._client = clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if secure else 8123),
                username=unquote(parts.username or "default"),
                password=unquote(parts.password or ""),
                secure=secure,
                # One HTTP session would refuse concurrent queries.
                autogenerate_session_id=False,
            )
        except Exception as exc:
            raise UnavailableError(f"cannot reach ClickHouse at {parts.hostname}: {exc}") from exc
        self._closed = False

    @contextmanager
    def _calling(self) -> Iterator[None]:
        from clickhouse_connect.driver.exceptions import Error

        if self._closed:
            raise UnavailableError("event store is closed")
        try:
            yield
        except Error as exc:
            raise UnavailableError(f"ClickHouse failed: {exc}") from exc

    def command(self, sql: str, params: Params | None = None) -> None:
        with self._calling():
            self._client.command(sql, parameters=params or None, settings=self._settings)

    def arrow(self, sql: str, params: Params | None = None) -> pa.Table:
        with self._calling():
            table: pa.Table = self._client.query_arrow(
                sql, parameters=params or None, settings=self._settings, use_strings=True
            )
        return table

    def insert(self, table: str, data: pa.Table) -> None:
        with self._calling():
            self._client.insert_arrow(table, data, database=self.database, settings=self._settings)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()


def claims_url(url: str) -> str | None:
    """The claim store named by the URL's ``claims`` parameter, if any."""
    value = dict(parse_qsl(urlsplit(url).query)).get("claims")
    return value or None


def open_driver(url: str) -> Driver:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "chdb":
        path = url.split("://", 1)[1].split("?", 1)[0]
        if not path or path == "/":
            raise NotSupportedError(f"chdb URL needs a directory: chdb:///PATH, not {url!r}")
        return ChdbDriver(path)
    if scheme == "clickhouse":
        return HttpDriver(url)
    raise NotSupportedError(f"not a ClickHouse URL: {url!r}")
