"""Appending to the embedded event store: deduplication and compaction.

A single writer (serialised by a lock; the group-commit thread in a server)
appends. An event's own row is its dedupe claim: there is no separate key
table to fall out of step with, so a crash can neither lose a claimed event
(a retry would count it zero times) nor keep an event without its claim (a
retry would count it twice). Commits are durable when ``append`` returns:
DuckDB syncs its write-ahead log on commit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from meterd.core.clock import Clock
from meterd.core.errors import InsufficientStorage, UnavailableError
from meterd.domain.events.models import EventBatch, StoredEvent
from meterd.storage.duckdb.fingerprints import U64, FingerprintIndex, fingerprints
from meterd.storage.duckdb.schema import (
    COLUMNS,
    SORT_KEY,
    from_row_event,
    to_arrow,
    warm_arrow,
)

Key = tuple[str, str, str]
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full(exc: BaseException) -> bool:
    """Whether a write failed for want of space (DuckDB reports it as text)."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    text = str(exc)
    return any(os.strerror(code) in text for code in _FULL)


class EventWriter:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        clock: Clock,
        window: timedelta | None,
        compact_rows: int,
    ) -> None:
        self._con = con
        self._clock = clock
        self._window = window
        self._compact_rows = compact_rows
        self.lock = threading.Lock()
        # One compaction at a time: two would copy the same rows, and the
        # second would fail to delete what the first already removed.
        self._compacting = threading.Lock()
        self.closed = False
        self._indexed_at = 0.0
        self._index = self._load_index()
        warm_arrow()
        ((hot,),) = con.execute("SELECT count(*) FROM events_hot").fetchall()
        self._hot = int(hot)
        self._last_append = time.monotonic()
        self._wake = threading.Event()
        self._compactor = threading.Thread(
            target=self._compact_loop, name="meterd-compact", daemon=True
        )
        self._compactor.start()

    # -- append -------------------------------------------------------------

    def append(self, batches: list[EventBatch]) -> list[int]:
        # Callers (group commit) match results to batches by position, so
        # empty batches are skipped for the commit but keep their slot.
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
            stored_at = self._clock.now()
            incoming = to_arrow(batches, stored_at)
            fps = fingerprints(batches)
            keep = self._first_sightings(incoming, fps)
            incoming = incoming.append_column("f", pa.array(fps, pa.uint64()))
            incoming = incoming.append_column("keep", pa.array(keep, pa.bool_()))
            con = self._con
            con.register("incoming", incoming)
            try:
                where = "" if keep.all() else " WHERE keep"
                con.execute("BEGIN TRANSACTION")
                try:
                    if keep.any():
                        con.execute(
                            f"INSERT INTO events_hot SELECT {COLUMNS}, f FROM incoming{where}"
                        )
                    con.execute("COMMIT")
                except BaseException as exc:
                    # A commit that failed may have ended the transaction.
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    if disk_full(exc):
                        raise InsufficientStorage(
                            "the event store's disk is full; none of these events were stored"
                        ) from exc
                    raise
            finally:
                con.unregister("incoming")
            # Only committed events enter the index, so a failed commit never
            # makes the client's retry look like a duplicate.
            accepted = fps[keep]
            self._index.add(accepted)
            self._hot += int(accepted.size)
            self._last_append = time.monotonic()
            self._maybe_reindex()
        if self._hot >= self._compact_rows:
            self._wake.set()
        starts = np.cumsum([0, *(len(b) for b in batches[:-1])])
        return [int(c) for c in np.add.reduceat(keep.astype(np.int64), starts)]

    def _first_sightings(self, incoming: pa.Table, fps: U64) -> npt.NDArray[np.bool_]:
        """Rows whose (namespace, source, id) is neither stored nor earlier in this append."""
        keep = np.ones(fps.size, np.bool_)
        uniq, counts = np.unique(fps, return_counts=True)
        repeated = uniq[counts > 1]
        maybe = uniq[self._index.maybe_contains(uniq)]
        if repeated.size == 0 and maybe.size == 0:
            return keep
        # Rare path (retries, collisions): compare exact keys, only for the
        # rows whose fingerprints asked for it.
        rows = np.flatnonzero(np.isin(fps, np.union1d(repeated, maybe))).astype(np.int64)
        picked = incoming.select(["namespace", "source", "id"]).take(pa.array(rows))
        keys: list[Key] = list(
            zip(*(picked.column(c).to_pylist() for c in ("namespace", "source", "id")), strict=True)
        )
        stored = self._stored([int(f) for f in maybe])
        seen: set[Key] = set()
        for i, key in zip(rows.tolist(), keys, strict=True):
            if key in stored or key in seen:
                keep[i] = False
            seen.add(key)
        return keep

    def _stored(self, fingerprints: list[int]) -> set[Key]:
        if not fingerprints:
            return set()
        # One semi-join over the bound list: a hash join, so a retried batch
        # of thousands of events costs one scan of ``f``. (An inlined list of
        # constants with the IN-clause rewrite disabled would compare every
        # row with every constant: seconds per retried batch at 10 M events.)
        # DuckDB keeps ~1.7 KiB of native memory per hash join it runs; that
        # is per retried batch, not per event, and is what the soak with
        # reused ids measures (docs/reliability.md). Fingerprints travel as
        # text: binding a list of large unsigned ints lets the driver guess a
        # lossy type.
        sql = (
            "SELECT namespace, source, id FROM all_events "
            "WHERE f IN (SELECT unnest(?::VARCHAR[])::UBIGINT)"
        )
        params: list[Any] = [[str(f) for f in fingerprints]]
        if self._window is not None:
            sql += " AND stored_at >= ?"
            params.append(self._clock.now() - self._window)
        return {(r[0], r[1], r[2]) for r in self._con.execute(sql, params).fetchall()}

    # -- corrections ---------------------------------------------------------

    def delete(self, namespace: str, keys: list[tuple[str, str]]) -> list[StoredEvent]:
        """Delete the events with these (source, id) keys; returns what was removed.

        The row is the claim, so a deleted key may be appended again. Its
        fingerprint stays in the index as a harmless false positive: the exact
        check against the table finds no row and lets the event in.
        """
        if not keys:
            return []
        packed = [f"{source}\x00{id_}" for source, id_ in keys]
        where = "namespace = ? AND list_contains(?::VARCHAR[], source || chr(0) || id)"
        # Compaction moves rows between the two tables in its own transaction;
        # holding its lock keeps a row from being copied while it is deleted.
        with self._compacting, self.lock:
            if self.closed:
                raise UnavailableError("event store is closed")
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                rows = con.execute(
                    f"SELECT {COLUMNS} FROM all_events WHERE {where}", [namespace, packed]
                ).fetchall()
                if rows:
                    for table in ("events", "events_hot"):
                        con.execute(f"DELETE FROM {table} WHERE {where}", [namespace, packed])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            hot = con.execute("SELECT count(*) FROM events_hot").fetchall()
            self._hot = int(hot[0][0])
        return [from_row_event(r) for r in rows]

    # -- the fingerprint index ---------------------------------------------

    def _load_index(self) -> FingerprintIndex:
        sql, params = "SELECT f FROM all_events", []
        if self._window is not None:
            sql += " WHERE stored_at >= ?"
            params.append(self._clock.now() - self._window)
        raw = self._con.execute(sql, params).fetchnumpy()["f"]
        self._indexed_at = time.monotonic()
        return FingerprintIndex(np.asarray(raw, np.uint64))

    def _maybe_reindex(self) -> None:
        # With a window, fingerprints older than it are dead weight; rebuilding
        # from the window keeps the index's memory bounded by it.
        if self._window is None:
            return
        if time.monotonic() - self._indexed_at >= max(self._window.total_seconds() / 2, 60.0):
            self._index = self._load_index()

    def forget_expired(self) -> int:
        """Rebuild the index from the dedupe window; returns fingerprints dropped."""
        if self._window is None:
            return 0
        with self.lock:
            before = len(self._index)
            self._index = self._load_index()
            return before - len(self._index)

    # -- compaction ---------------------------------------------------------

    def _compact_loop(self) -> None:
        while not self.closed:
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            if self.closed:
                return
            idle = time.monotonic() - self._last_append > 30.0
            if self._hot >= self._compact_rows or (idle and self._hot > 0):
                try:
                    self.compact()
                except duckdb.Error:
                    # A failed run leaves the rows in events_hot, where reads
                    # still find them; the next round tries again.
                    time.sleep(1.0)

    def compact(self) -> int:
        """Move committed hot rows into a sorted run of ``events``; returns rows moved.

        Runs on its own connection, concurrently with appends: both statements
        see one snapshot, so exactly the rows copied are the rows deleted.
        """
        with self._compacting, self._con.cursor() as cur:
            cur.execute("SET TimeZone = 'UTC'")
            cur.execute("BEGIN TRANSACTION")
            try:
                # fetchall, not fetchone: DuckDB refuses more work on a
                # connection with an unfinished result.
                ((cutoff, moved),) = cur.execute(
                    "SELECT max(stored_at), count(*) FROM events_hot"
                ).fetchall()
                if cutoff is None:
                    cur.execute("ROLLBACK")
                    return 0
                moved = int(moved)
                cur.execute(
                    f"INSERT INTO events SELECT * FROM events_hot WHERE stored_at <= ? "
                    f"ORDER BY {SORT_KEY}",
                    [cutoff],
                )
                cur.execute("DELETE FROM events_hot WHERE stored_at <= ?", [cutoff])
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        with self.lock:
            self._hot = max(0, self._hot - moved)
        return moved

    def stop(self) -> None:
        self.closed = True
        self._wake.set()
        self._compactor.join(timeout=60)
