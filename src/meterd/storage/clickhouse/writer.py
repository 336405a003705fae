"""Appending to the ClickHouse event store: exact deduplication, then batched inserts.

One writer per store (serialised by a lock; the group-commit thread in a
server) appends. Before inserting, every incoming (namespace, source, id) is
checked against claims:

* with chdb the store is the only writer: an in-memory fingerprint index
  proves most keys new without a query, and only its hits are confirmed in
  ``event_keys`` (or, should a claim be missing, in ``events``);
* servers sharing one ClickHouse claim their keys in PostgreSQL (``claims``),
  holding the claims' transaction open across the insert;
* a lone server without PostgreSQL looks every key up in ``event_keys``.

Rows go in as inserts of at most ``insert_rows`` rows, events before their
``event_keys`` claims: a crash between the two leaves an event without a
claim, whose retry stores an identical copy that ``FINAL`` reads as one
(``docs/clickhouse.md``).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from meterd.core.clock import Clock
from meterd.core.errors import UnavailableError
from meterd.domain.events.models import EventBatch
from meterd.storage.clickhouse.claims import PgClaims
from meterd.storage.clickhouse.connection import Driver
from meterd.storage.clickhouse.schema import events_table, keys_table
from meterd.storage.clickhouse.sql import Binder, epoch_us
from meterd.storage.duckdb.fingerprints import U64, FingerprintIndex

Key = tuple[str, str, str]


def fingerprint(namespace: str, source: str, id_: str) -> int:
    """Low 64 bits of BLAKE2b over the dedupe key: stable across versions and platforms."""
    digest = hashlib.blake2b(f"{namespace}\0{source}\0{id_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _keys(batches: list[EventBatch]) -> list[Key]:
    return list(
        chain.from_iterable(
            zip([b.namespace] * len(b), b.sources, b.ids, strict=True) for b in batches
        )
    )


class EventWriter:
    def __init__(
        self,
        driver: Driver,
        clock: Clock,
        window: timedelta | None,
        insert_rows: int,
        claims: PgClaims | None = None,
    ) -> None:
        self._driver = driver
        self._db = driver.database
        self._clock = clock
        self._window = window
        self._insert_rows = insert_rows
        self._claims = claims
        # Whether other processes may append to the same tables.
        self.shared = driver.shared or claims is not None
        self.lock = threading.Lock()
        self.closed = False
        self._pruned_until: datetime | None = None
        self._index: FingerprintIndex | None = (
            None if self.shared else FingerprintIndex(self._load_index())
        )

    def append(self, batches: list[EventBatch]) -> list[int]:
        # Callers (group commit) match results to batches by position, so
        # empty batches are skipped for the insert but keep their slot.
        nonempty = [i for i, b in enumerate(batches) if len(b)]
        out = [0] * len(batches)
        if nonempty:
            counts = self._append([batches[i] for i in nonempty])
            for i, c in zip(nonempty, counts, strict=True):
                out[i] = c
        return out

    def _append(self, batches: list[EventBatch]) -> list[int]:
        with self.lock:
            if self.closed:
                raise UnavailableError("event store is closed")
            keys = _keys(batches)
            fps: U64 = np.fromiter((fingerprint(*k) for k in keys), np.uint64, len(keys))
            if self._claims is None:
                keep = self._first_sightings(keys, fps)
                self._insert(batches, self._clock.now(), fps, keep)
            else:
                first = np.zeros(fps.size, np.bool_)
                seen: set[Key] = set()
                for i, key in enumerate(keys):
                    if key not in seen:
                        first[i] = True
                        seen.add(key)
                with self._claims.claim([keys[i] for i in np.flatnonzero(first)]) as (won, at):
                    keep = first & np.fromiter((k in won for k in keys), np.bool_, len(keys))
                    self._insert(batches, at, fps, keep)
        starts = np.cumsum([0, *(len(b) for b in batches[:-1])])
        return [int(c) for c in np.add.reduceat(keep.astype(np.int64), starts)]

    def _insert(
        self, batches: list[EventBatch], stored_at: datetime, fps: U64, keep: npt.NDArray[np.bool_]
    ) -> None:
        if not keep.any():
            return
        gen = 0
        if self._window is not None:
            gen = int(epoch_us(stored_at) // (self._window // timedelta(microseconds=1)))
        rows = events_table(batches, stored_at, pa.array(fps, pa.uint64()), gen)
        if not keep.all():
            rows = rows.filter(pa.array(keep, pa.bool_()))
        for start in range(0, rows.num_rows, self._insert_rows):
            chunk = rows.slice(start, self._insert_rows)
            self._driver.insert("events", chunk)
            self._driver.insert("event_keys", keys_table(chunk))
            # Only stored events enter the index, so a failed insert never
            # makes the client's retry look like a duplicate.
            if self._index is not None:
                self._index.add(np.asarray(chunk.column("f").to_numpy(), np.uint64))

    def _first_sightings(self, keys: list[Key], fps: U64) -> npt.NDArray[np.bool_]:
        """Rows whose key is neither claimed nor earlier in this append."""
        keep = np.ones(fps.size, np.bool_)
        uniq, counts = np.unique(fps, return_counts=True)
        repeated = np.flatnonzero(np.isin(fps, uniq[counts > 1]))
        if self._index is None:
            suspects = np.arange(fps.size)
        else:
            suspects = np.flatnonzero(self._index.maybe_contains(fps))
        if repeated.size == 0 and suspects.size == 0:
            return keep
        stored = self._claimed(np.unique(fps[suspects]))
        seen: set[Key] = set()
        for i in np.union1d(repeated, suspects).tolist():
            key = keys[i]
            if key in stored or key in seen:
                keep[i] = False
            seen.add(key)
        return keep

    def _claimed(self, fingerprints: U64) -> set[Key]:
        if fingerprints.size == 0:
            return set()
        rows = self._lookup("event_keys", fingerprints)
        if self._index is not None:
            # The index comes from ``events``, which is synced on insert;
            # ``event_keys`` is not, so a power cut may have lost the claims
            # of the last inserts. Fingerprints it cannot confirm are looked
            # up in ``events`` itself (a scan of one column, and rare).
            unconfirmed = np.setdiff1d(fingerprints, np.asarray([r[0] for r in rows], np.uint64))
            if unconfirmed.size:
                rows += self._lookup("events", unconfirmed)
        return {(r[1], r[2], r[3]) for r in rows}

    def _lookup(self, table: str, fingerprints: U64) -> list[tuple[int, str, str, str]]:
        bind = Binder()
        sql = (
            f"SELECT f, namespace, source, id FROM {self._db}.{table} "
            f"WHERE f IN {bind([int(f) for f in fingerprints], 'Array(UInt64)')}"
        )
        if self._window is not None:
            sql += f" AND stored_at >= {bind.instant(self._clock.now() - self._window)}"
        result = self._driver.arrow(sql, bind.params)
        cols = [result.column(c).to_pylist() for c in ("f", "namespace", "source", "id")]
        return list(zip(*cols, strict=True))

    def delete(self, namespace: str, keys: list[tuple[str, str]], columns: str) -> list[Any]:
        """Delete the events with these (source, id) keys; returns their rows.

        Events go first, then their claims (all of the keys' claims, found or
        not: a deletion that failed half-way leaves claims without rows, and
        its retry must release them). A fingerprint stays in the index as a
        harmless false positive: the exact check finds no claim and no row.
        """
        if not keys:
            return []
        bind = Binder()
        packed = bind.texts([f"{source}\0{id_}" for source, id_ in keys])
        fps = bind([fingerprint(namespace, s, i) for s, i in keys], "Array(UInt64)")
        where = (
            f"namespace = {bind.text(namespace)} AND f IN {fps} "
            f"AND concat(source, '\\0', id) IN {packed}"
        )
        with self.lock:
            if self.closed:
                raise UnavailableError("event store is closed")
            found = self._driver.arrow(
                f"SELECT {columns} FROM {self._db}.events FINAL WHERE {where}", bind.params
            )
            if found.num_rows:
                self._driver.command(self._delete_sql("events", where), bind.params)
            self._driver.command(self._delete_sql("event_keys", where), bind.params)
            if self._claims is not None:
                self._claims.release(namespace, keys)
        return list(zip(*(c.to_pylist() for c in found.columns), strict=True))

    def _delete_sql(self, table: str, where: str) -> str:
        # Lightweight deletes hide the rows at once; merges drop them later.
        # On a cluster they run on each shard's local table.
        if self._driver.cluster is not None:
            on = f"ON CLUSTER {self._driver.cluster}"
            return f"DELETE FROM {self._db}.{table}_local {on} WHERE {where}"
        return f"DELETE FROM {self._db}.{table} WHERE {where}"

    # -- the fingerprint index ---------------------------------------------

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self._claims is not None:
                self._claims.close()

    def _load_index(self) -> U64:
        bind = Binder()
        sql = f"SELECT f FROM {self._db}.events"
        if self._window is not None:
            sql += f" WHERE stored_at >= {bind.instant(self._clock.now() - self._window)}"
        column = self._driver.arrow(sql, bind.params).column("f")
        return np.asarray(column.to_numpy(), np.uint64)

    def forget_expired(self) -> int:
        """Drop claims older than the window; returns how many were forgotten."""
        if self._window is None:
            return 0
        with self.lock:
            if self._claims is not None:
                self._drop_old_months()
                return self._claims.forget_expired()
            if self._index is None:
                # Claims past the window are ignored by every lookup; count
                # the ones that expired since the last pruning.
                cutoff = self._clock.now() - self._window
                bind = Binder()
                sql = (
                    f"SELECT count() AS n FROM {self._db}.event_keys "
                    f"WHERE stored_at < {bind.instant(cutoff)}"
                )
                if self._pruned_until is not None:
                    sql += f" AND stored_at >= {bind.instant(self._pruned_until)}"
                (n,) = self._driver.arrow(sql, bind.params).column("n").to_pylist()
                self._pruned_until = cutoff
                self._drop_old_months()
                return int(n)
            self._drop_old_months()
            before = len(self._index)
            self._index = FingerprintIndex(self._load_index())
            return before - len(self._index)

    def _drop_old_months(self) -> None:
        # Claims are partitioned by month of storing: a month whose newest
        # claim is past the window goes whole, without rewriting any part.
        assert self._window is not None
        bind = Binder()
        cutoff = bind.instant(self._clock.now() - self._window)
        old = self._driver.arrow(
            f"SELECT _partition_id AS p FROM {self._db}.event_keys "
            f"GROUP BY p HAVING max(stored_at) < {cutoff}",
            bind.params,
        )
        table, on = "event_keys", ""
        if self._driver.cluster is not None:
            table, on = "event_keys_local", f" ON CLUSTER {self._driver.cluster}"
        for pid in old.column("p").to_pylist():
            # Partition ids are ClickHouse's own YYYYMM digits, never user text.
            if str(pid).isalnum():
                self._driver.command(
                    f"ALTER TABLE {self._db}.{table}{on} DROP PARTITION ID '{pid}'"
                )
