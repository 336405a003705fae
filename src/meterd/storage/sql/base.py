"""Shared plumbing of the state store: connections, locking, error translation.

Every database call of the store goes through ``_read`` or ``_write``; they
are the boundary where driver exceptions become meterd errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from meterd.core.errors import ConflictError, UnavailableError
from meterd.storage.sql.engine import (
    BEGIN_MODE,
    create_state_engine,
    is_memory_sqlite,
    migrate,
)

# Given a lower-cased description of the violated constraint (its name on
# PostgreSQL, its columns on SQLite), return the message for the caller.
ConflictMessage = Callable[[str], str]


def _violation(exc: IntegrityError) -> str:
    orig = exc.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return f"{name or ''} {orig}".lower()


def _driver_message(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(orig).splitlines()[0] if str(orig) else type(orig).__name__


class SqlBase:
    """Owns the engine; subclasses add the queries."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._engine = create_state_engine(url)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._driver_error: type[Exception] = self._engine.dialect.loaded_dbapi.Error
        self._closed = False
        # One in-memory connection is shared by all threads, so every use of
        # it is serialised. For files, only writers queue here: SQLite admits
        # one writer at a time anyway, and queueing on a lock is fairer and
        # cheaper than spinning in the busy handler.
        self._all_lock = threading.Lock() if self._sqlite and is_memory_sqlite(parsed) else None
        self._write_lock = threading.Lock() if self._sqlite else None
        try:
            with self._translated():
                migrate(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Release every connection; later calls raise UnavailableError."""
        self._closed = True
        self._engine.dispose()

    def _lock(self, write: bool) -> AbstractContextManager[object]:
        if self._all_lock is not None:
            return self._all_lock
        if write and self._write_lock is not None:
            return self._write_lock
        return nullcontext()

    @contextmanager
    def _translated(self, conflict: ConflictMessage | None = None) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            message = conflict(_violation(exc)) if conflict else None
            raise ConflictError(message or "the change conflicts with stored data") from exc
        except DBAPIError as exc:
            raise UnavailableError(f"state store unavailable: {_driver_message(exc)}") from exc
        except StatementError as exc:
            # Not from the driver: a column type refused a value while
            # binding it, which is a bug in the caller; surface that error.
            if isinstance(exc.orig, Exception):
                raise exc.orig from None
            raise UnavailableError(f"state store error: {exc}") from exc
        except SQLAlchemyError as exc:
            raise UnavailableError(f"state store error: {exc}") from exc
        except CommandError as exc:
            raise UnavailableError(f"state store schema cannot be migrated: {exc}") from exc
        except self._driver_error as exc:
            raise UnavailableError(f"state store unavailable: {_driver_message(exc)}") from exc

    @contextmanager
    def _connection(self, write: bool, conflict: ConflictMessage | None) -> Iterator[Connection]:
        if self._closed:
            raise UnavailableError("state store is closed")
        with self._lock(write), self._translated(conflict), self._engine.connect() as conn:
            if write and self._sqlite:
                # Take the write lock at BEGIN: a deferred transaction that
                # reads first and writes later can fail with SQLITE_BUSY at
                # once instead of waiting out the busy timeout.
                conn.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
            with conn.begin():
                yield conn

    def _read(self) -> AbstractContextManager[Connection]:
        """A read-only transaction."""
        return self._connection(False, None)

    def _write(self, conflict: ConflictMessage | None = None) -> AbstractContextManager[Connection]:
        """A write transaction; unique violations become ConflictError(conflict(...))."""
        return self._connection(True, conflict)
