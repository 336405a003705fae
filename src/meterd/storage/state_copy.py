"""Copying the whole state store to another database (SQLite to PostgreSQL, typically).

Rows are read and written through the same SQLAlchemy tables the store uses,
so every column's type conversion (exact decimals, UTC instants, JSON) is
the store's own. The target must be migrated and empty; the copy is one
transaction there, so a failed copy leaves it empty.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select

from meterd.core.errors import ConflictError
from meterd.storage.sql.engine import create_state_engine
from meterd.storage.sql.schema import metadata


def copy_state(source_url: str, target_url: str, chunk: int = 5_000) -> dict[str, int]:
    """Copy every table, parents before children; returns rows copied per table."""
    source = create_state_engine(source_url)
    target = create_state_engine(target_url)
    counts: dict[str, int] = {}
    try:
        with source.connect() as src, target.begin() as dst:
            for table in metadata.sorted_tables:
                if dst.execute(select(func.count()).select_from(table)).scalar():
                    raise ConflictError(
                        f"table {table.name} of the target already holds rows; copy into a "
                        "freshly migrated, empty database"
                    )
            for table in metadata.sorted_tables:
                copied = 0
                result = src.execution_options(stream_results=True).execute(select(table))
                for part in result.mappings().partitions(chunk):
                    dst.execute(insert(table), [dict(row) for row in part])
                    copied += len(part)
                counts[table.name] = copied
    finally:
        source.dispose()
        target.dispose()
    return counts
