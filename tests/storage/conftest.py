"""The ``state_store`` fixture: a fresh SqlStateStore on every available backend.

SQLite always runs, on a file so migrations and WAL are exercised; PostgreSQL
runs when METERD_TEST_POSTGRES_URL points at a database the tests may wipe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from meterd.storage.sql import SqlStateStore
from meterd.storage.sql.engine import create_state_engine
from meterd.storage.sql.tables import metadata

PG_ENV = "METERD_TEST_POSTGRES_URL"


def _wipe_postgres(url: str) -> None:
    engine = create_state_engine(url)
    try:
        with engine.begin() as conn:
            for table in [*reversed(metadata.sorted_tables), "alembic_version"]:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} not set"),
        ),
    ]
)
def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStateStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        url = os.environ[PG_ENV]
        _wipe_postgres(url)
    store = SqlStateStore(url)
    try:
        yield store
    finally:
        store.close()
