"""An in-memory index of event fingerprints, for deduplication at ingest speed.

Every stored event carries ``f``, the low 64 bits of the MD5 of
``namespace NUL source NUL id``. The index holds those fingerprints as sorted
``uint64`` arrays (8 bytes an event, against the ~60 bytes of an ART primary
key that DuckDB keeps pinned in memory), so most incoming events are proved new
without touching the table. A fingerprint hit is only a candidate: the store
confirms it against the exact (namespace, source, id) in the table.

The index is derived state. The truth is the events table itself (an event's
row is its dedupe claim, written in the same commit), so after a crash the
index is rebuilt from the table and can never disagree with it.
"""

from __future__ import annotations

from hashlib import md5

import numpy as np
import numpy.typing as npt

from meterd.domain.events.models import EventBatch

U64 = npt.NDArray[np.uint64]
# Small sorted runs are merged once there are this many of them.
MAX_RUNS = 16


def fingerprints(batches: list[EventBatch]) -> U64:
    """The fingerprint of every event of ``batches``, in order.

    Byte for byte what the schema's ``md5_number_lower(namespace || chr(0) ||
    source || chr(0) || id)`` gives (bytes 8..15 of the digest, little-endian),
    so stored fingerprints stay valid; hashing here costs under half of
    running that query over the batch.
    """
    digests: list[bytes] = []
    for b in batches:
        head = b.namespace + "\0"
        sources = b.sources
        if sources and sources.count(sources[0]) == len(sources):
            prefix = head + sources[0] + "\0"
            digests.extend([md5((prefix + i).encode()).digest() for i in b.ids])
        else:
            digests.extend(
                [
                    md5(f"{head}{s}\0{i}".encode()).digest()
                    for s, i in zip(sources, b.ids, strict=True)
                ]
            )
    words = np.frombuffer(b"".join(digests), "<u8")
    return np.ascontiguousarray(words[1::2])


def _is_sorted(values: U64) -> bool:
    return bool(values.size < 2 or np.all(values[:-1] <= values[1:]))


class FingerprintIndex:
    def __init__(self, initial: U64 | None = None) -> None:
        base = np.empty(0, np.uint64) if initial is None else np.asarray(initial, np.uint64)
        self._base: U64 = np.sort(base)
        self._runs: list[U64] = []

    def __len__(self) -> int:
        return int(self._base.size + sum(r.size for r in self._runs))

    @staticmethod
    def _hits(sorted_arr: U64, probe: U64) -> npt.NDArray[np.bool_]:
        if sorted_arr.size == 0:
            return np.zeros(probe.size, np.bool_)
        idx = np.searchsorted(sorted_arr, probe)
        idx[idx == sorted_arr.size] = sorted_arr.size - 1
        return np.asarray(sorted_arr[idx] == probe, np.bool_)

    def maybe_contains(self, probe: U64) -> npt.NDArray[np.bool_]:
        """True where the fingerprint may already be stored (exact check needed)."""
        # Probed in sorted order, each binary search starts where the last one
        # ended and walks memory forwards: about a quarter of the cost of
        # probing in arrival order.
        order = None if _is_sorted(probe) else np.argsort(probe, kind="stable")
        keys = probe if order is None else probe[order]
        hit = self._hits(self._base, keys)
        for run in self._runs:
            hit |= self._hits(run, keys)
        if order is None:
            return hit
        out = np.empty_like(hit)
        out[order] = hit
        return out

    def add(self, fingerprints: U64) -> None:
        """Record fingerprints of events that were just committed."""
        if fingerprints.size == 0:
            return
        self._runs.append(np.sort(fingerprints.astype(np.uint64, copy=False)))
        if len(self._runs) >= MAX_RUNS:
            merged = np.sort(np.concatenate(self._runs))
            self._runs = [merged]
            # Fold into the base once the runs are a sizeable fraction of it,
            # so the cost of re-sorting the base is spread over many commits.
            if merged.size * 8 >= self._base.size:
                self._base = np.sort(np.concatenate([self._base, merged]))
                self._runs = []
