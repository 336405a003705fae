"""The storage stack API-level tests run on, chosen by ``METERD_TEST_STACK``.

``embedded`` (the default) is SQLite state and DuckDB events in the data
directory. ``postgres`` gives every server process and every in-process
container a fresh PostgreSQL database for state and events; ``postgres+chdb``
gives it a fresh PostgreSQL database for state and an in-process ClickHouse
(chdb) inside its data directory for events. The databases live on the server
``METERD_TEST_POSTGRES_URL`` points at.

A fresh database is a copy of a template migrated once per test run with
``meterd``'s own migration function, so each test starts from a migrated,
empty schema without paying for the migrations again. Databases made during a
test are dropped when the test ends; those made for module- or
session-scoped fixtures when the run ends.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

STACKS = ("embedded", "postgres", "postgres+chdb")
STACK_ENV = "METERD_TEST_STACK"
PG_ENV = "METERD_TEST_POSTGRES_URL"

_counter = itertools.count()
_template: dict[str, str] = {}
# Data directory -> its store URLs, so a restarted server, a second process or
# a container built over the same directory finds the same stores.
_assigned: dict[Path, dict[str, str]] = {}
# Databases made during the running test (innermost last), and the rest.
_scopes: list[list[tuple[Path, str]]] = []
_leftover: list[tuple[Path, str]] = []


def current() -> str:
    stack = os.environ.get(STACK_ENV, "embedded") or "embedded"
    if stack not in STACKS:
        raise RuntimeError(f"{STACK_ENV} must be one of {', '.join(STACKS)}, not {stack!r}")
    return stack


def is_embedded() -> bool:
    return current() == "embedded"


def _admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        raise RuntimeError(f"{STACK_ENV}={current()} needs {PG_ENV} (a live PostgreSQL)")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin(sql: str) -> None:
    import psycopg

    conninfo = _admin_url().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


def _template_database(stack: str) -> str:
    """A database migrated for ``stack``, made on first use and dropped at exit."""
    if stack not in _template:
        from meterd.bootstrap import migrate_stores
        from meterd.settings import Settings

        name = f"meterd_tpl_{os.getpid()}_{stack.replace('+', '_')}"
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{name}"')
        atexit.register(_drop, name)
        url = _with_database(_admin_url(), name)
        with tempfile.TemporaryDirectory(prefix="meterd-stack-") as tmp:
            # Events in PostgreSQL migrate with the state; chdb creates its
            # tables when a store opens its directory.
            events = url if stack == "postgres" else None
            migrate_stores(Settings(data_dir=Path(tmp), database_url=url, events_url=events))
        _template[stack] = name
    return _template[stack]


def _drop(name: str) -> None:
    # The PostgreSQL server may already be gone when the run ends.
    with contextlib.suppress(Exception):
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def urls(data_dir: Path) -> dict[str, str]:
    """Store URLs for ``data_dir`` on the current stack; empty when embedded."""
    stack = current()
    if stack == "embedded":
        return {}
    key = Path(data_dir).resolve()
    if key not in _assigned:
        name = f"meterd_t_{os.getpid()}_{next(_counter)}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template_database(stack)}"')
        (_scopes[-1] if _scopes else _leftover).append((key, name))
        url = _with_database(_admin_url(), name)
        events = url if stack == "postgres" else f"chdb://{key / 'events.chdb'}"
        _assigned[key] = {"database_url": url, "events_url": events}
    return dict(_assigned[key])


def env(data_dir: Path) -> dict[str, str]:
    """``METERD_*`` variables putting a ``meterd`` process on the current stack."""
    return {f"METERD_{k.upper()}": v for k, v in urls(data_dir).items()}


def settings(**fields: Any) -> Any:
    """``Settings`` on the current stack, unless the caller names its own stores."""
    from meterd.settings import Settings

    if "database_url" not in fields and "events_url" not in fields:
        fields.update(urls(fields.get("data_dir", Settings().data_dir)))
    return Settings(**fields)


def _release(made: list[tuple[Path, str]]) -> None:
    for key, name in made:
        _assigned.pop(key, None)
        _drop(name)


@contextmanager
def per_test() -> Iterator[None]:
    """Databases made inside are dropped on leaving (a test's lifetime)."""
    _scopes.append([])
    try:
        yield
    finally:
        _release(_scopes.pop())


atexit.register(lambda: _release(_leftover))
