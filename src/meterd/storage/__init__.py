"""Storage adapters, picked by URL scheme and imported only when used.

State URLs: ``sqlite:///PATH``, ``postgresql://...`` (also ``postgresql+psycopg://``).
Event URLs: ``duckdb:///PATH`` (``duckdb:///:memory:`` for throwaway stores),
``clickhouse://...``, ``chdb:///PATH``, ``postgresql://...?schema=NAME``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any
from urllib.parse import urlsplit

from meterd.core.errors import NotSupportedError

STATE_BACKENDS = {
    "sqlite": ("meterd.storage.sql", "SqlStateStore", "sqlalchemy"),
    "postgresql": ("meterd.storage.sql", "SqlStateStore", "postgres"),
    "postgresql+psycopg": ("meterd.storage.sql", "SqlStateStore", "postgres"),
}
EVENT_BACKENDS = {
    "duckdb": ("meterd.storage.duckdb.store", "DuckDBEventStore", "duckdb"),
    "clickhouse": ("meterd.storage.clickhouse", "ClickHouseEventStore", "clickhouse"),
    "chdb": ("meterd.storage.clickhouse", "ClickHouseEventStore", "clickhouse"),
    "postgresql": ("meterd.storage.postgres_events", "PostgresEventStore", "postgres"),
    "postgresql+psycopg": ("meterd.storage.postgres_events", "PostgresEventStore", "postgres"),
}


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower()


def resolve(kind: str, url: str) -> Any:
    """Return the backend class for ``url``, importing it lazily."""
    table = STATE_BACKENDS if kind == "state" else EVENT_BACKENDS
    scheme = scheme_of(url)
    if scheme not in table:
        close = difflib.get_close_matches(scheme, list(table), n=1)
        hint = f" Did you mean {close[0]}://?" if close else ""
        raise NotSupportedError(
            f"unknown {kind} store URL scheme {scheme!r} in {url!r}.{hint} "
            f"Known: {', '.join(sorted(table))}"
        )
    module, name, extra = table[scheme]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise NotSupportedError(
            f"the {scheme} backend needs extra packages: pip install 'meterd[{extra}]' ({exc})"
        ) from exc
    return getattr(mod, name)


def duckdb_path(url: str) -> str:
    """File path of a ``duckdb:///PATH`` URL."""
    path = url.split("://", 1)[1]
    return path[1:] if path.startswith("/:memory:") else path
