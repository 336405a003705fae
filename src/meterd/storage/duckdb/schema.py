"""Tables of the embedded event store and the row <-> Arrow/domain mapping.

Events live in two tables with one shape: ``events_hot`` takes every append,
and a background compactor moves its rows into ``events`` in runs sorted by
(namespace, type, subject, time). DuckDB keeps min/max statistics per row
group, so in sorted runs a one-subject query skips nearly every row group.
``all_events`` is the union that every read goes through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain
from typing import Any

import pyarrow as pa

from meterd.domain.events.models import EventBatch, StoredEvent

_COLUMNS_DDL = """
    namespace VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    specversion VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    data VARCHAR,
    datacontenttype VARCHAR,
    dataschema VARCHAR,
    ingested_at TIMESTAMPTZ NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL,
    f UBIGINT NOT NULL
"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events ({_COLUMNS_DDL});
CREATE TABLE IF NOT EXISTS events_hot ({_COLUMNS_DDL});
CREATE OR REPLACE VIEW all_events AS
    SELECT * FROM events UNION ALL SELECT * FROM events_hot;
"""

# The dedupe fingerprint: low 64 bits of MD5 over the dedupe key. MD5 rather
# than DuckDB's hash() because stored fingerprints must stay valid across
# DuckDB upgrades.
FINGERPRINT = "md5_number_lower(namespace || chr(0) || source || chr(0) || id)"
COLUMNS = (
    "namespace, id, source, specversion, type, subject, time, data, "
    "datacontenttype, dataschema, ingested_at, stored_at"
)
SORT_KEY = "namespace, type, subject, time"
_TS = pa.timestamp("us", tz="UTC")


def _column(batches: list[EventBatch], name: str, kind: pa.DataType) -> pa.Array:
    if len(batches) == 1:
        return pa.array(getattr(batches[0], name), kind)
    return pa.array(list(chain.from_iterable(getattr(b, name) for b in batches)), kind)


def _repeated(values: list[tuple[Any, int]], kind: pa.DataType) -> pa.Array:
    # One value per batch, repeated for its events: built in Arrow, not as a
    # Python list with one entry per event. Neighbouring batches mostly share
    # the value (a group of one-event requests to one namespace), so runs are
    # merged first: one Arrow scalar per run, not per request.
    runs: list[list[Any]] = []
    for v, n in values:
        if runs and runs[-1][0] == v:
            runs[-1][1] += n
        else:
            runs.append([v, n])
    if len(runs) > 1 and sum(n for _, n in runs) <= 4 * len(runs):
        # Short runs (each request its own ingest time): one conversion of
        # the expanded list beats an Arrow scalar and a concat per run.
        return pa.array([v for v, n in runs for _ in range(n)], kind)
    parts = [pa.repeat(pa.scalar(v, kind), n) for v, n in runs]
    return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)


def warm_arrow() -> None:
    """Convert one timestamp, so one-off setup happens before the first append.

    pyarrow converts timezone-aware datetimes through pandas when pandas is
    installed and imports it on first use (about half a second), which would
    otherwise land on the first batch a client waits for.
    """
    pa.array([datetime(1970, 1, 1, tzinfo=UTC)], _TS)


def to_arrow(batches: list[EventBatch], stored_at: datetime) -> pa.Table:
    """One Arrow table holding every event of ``batches``, in order."""
    sizes = [len(b) for b in batches]
    return pa.table(
        {
            "namespace": _repeated([(b.namespace, len(b)) for b in batches], pa.string()),
            "id": _column(batches, "ids", pa.string()),
            "source": _column(batches, "sources", pa.string()),
            "specversion": _column(batches, "specversions", pa.string()),
            "type": _column(batches, "types", pa.string()),
            "subject": _column(batches, "subjects", pa.string()),
            "time": _column(batches, "times", _TS),
            "data": _column(batches, "data", pa.string()),
            "datacontenttype": _column(batches, "datacontenttypes", pa.string()),
            "dataschema": _column(batches, "dataschemas", pa.string()),
            "ingested_at": _repeated([(b.ingested_at, len(b)) for b in batches], _TS),
            "stored_at": _repeated([(stored_at, sum(sizes))], _TS),
        }
    )


def from_row_event(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        namespace=row[0],
        id=row[1],
        source=row[2],
        specversion=row[3],
        type=row[4],
        subject=row[5],
        time=row[6].astimezone(UTC),
        data=row[7],
        datacontenttype=row[8],
        dataschema=row[9],
        ingested_at=row[10].astimezone(UTC),
        stored_at=row[11].astimezone(UTC),
    )
