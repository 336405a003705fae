"""The event queue's pure parts, shared by the thread and asyncio consumers:
records, batch encoding and what to do with each answer.

A record is stamped with its ``id`` and time when it is enqueued, so a batch
that is sent twice (a retry, a replay from the spool) is counted once.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import time as _time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from meterd_client._retry import retryable_status
from meterd_client._wire import body_time


class Record(NamedTuple):
    id: str
    time: float | str  # epoch seconds at enqueue, or RFC 3339 when replayed
    type: str
    subject: str
    data: Any
    source: str
    segment: int  # spool segment holding the record; -1 without a spool


DropHandler = Callable[[list[Record], BaseException | None], None]

# What a queue holds: a record's fields as an exact tuple. The garbage
# collector stops tracking exact tuples of untracked values (strings, numbers,
# flat dicts), while a NamedTuple stays tracked for life, so a long queue of
# Records would make every full collection walk all of it, on the thread
# that calls ``track``.
Pending = tuple[str, "float | str", str, str, Any, str, int]


@dataclass(frozen=True, slots=True)
class QueueSettings:
    # Measured with bench/sdk_queue.py: 10,000-event batches with three in
    # flight keep a local server's group commit fed (~10 % more events/s
    # than 5,000 and two); 0.5 s still bounds how long an event waits.
    flush_at: int = 10_000
    flush_interval: float = 0.5
    max_batch_bytes: int = 4 * 1024 * 1024
    max_queue_size: int = 100_000
    gzip_level: int = 1
    # Batches in flight at once: the server commits concurrent batches
    # together, so a few overlapping requests beat one at a time.
    max_in_flight: int = 3
    source: str = "meterd-client"


class Stamper:
    """Event ids: a random per-process prefix and a counter; a forked child
    must call ``reseed`` so it never repeats its parent's ids."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex() + "-"
        self.counter = itertools.count(1)

    def next_id(self) -> str:
        return self.prefix + str(next(self.counter))


_second = -1
_second_text = ""


def format_time(value: float | str | datetime) -> str:
    global _second, _second_text
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return body_time(value)
    second = int(value)
    if second != _second:
        _second_text = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second))
        _second = second
    return f"{_second_text}.{int((value - second) * 1_000_000):06d}Z"


def to_event(r: Pending) -> dict[str, Any]:
    id_, at, type_, subject, data, source, _ = r
    event = {
        "specversion": "1.0",
        "id": id_,
        "source": source,
        "type": type_,
        "subject": subject,
        "time": format_time(at),
    }
    if data is not None:
        event["data"] = data
    return event


def from_event(event: Mapping[str, Any], segment: int) -> Record:
    return Record(
        str(event["id"]),
        str(event.get("time") or datetime.now(UTC).isoformat()),
        str(event["type"]),
        str(event["subject"]),
        event.get("data"),
        str(event.get("source") or "meterd-client"),
        segment,
    )


# Encoding holds the GIL; in slices this size a ``track`` on another thread
# waits at most one slice, not a whole batch.
ENCODE_SLICE = 500


def encode_raw(records: Sequence[Pending]) -> bytes:
    parts = []
    dumps = json.dumps
    for i in range(0, len(records), ENCODE_SLICE):
        # to_event's body, inlined: this loop is most of the sender's CPU.
        events: list[dict[str, Any]] = []
        add = events.append
        for id_, at, type_, subject, data, source, _ in records[i : i + ENCODE_SLICE]:
            event = {
                "specversion": "1.0",
                "id": id_,
                "source": source,
                "type": type_,
                "subject": subject,
                "time": format_time(at),
            }
            if data is not None:
                event["data"] = data
            add(event)
        parts.append(dumps(events, separators=(",", ":"), default=str)[1:-1])
    return ("[" + ",".join(parts) + "]").encode()


def take(queue: deque[Pending], limit: int) -> list[Pending]:
    """Up to ``limit`` queued events from the front of ``queue``."""
    n = min(limit, len(queue))
    pop = queue.popleft
    return [pop() for _ in range(n)]


def spooled(record: Pending, segment: int) -> Pending:
    """The record as queued once the spool holds it, in ``segment``."""
    return (*record[:6], segment)


def per_segment(records: Iterable[Pending]) -> Counter[int]:
    """How many of ``records`` each spool segment holds, for acknowledging them."""
    return Counter(r[6] for r in records)


def as_records(pending: list[Pending]) -> list[Record]:
    """The named view handed to ``on_drop``."""
    return [Record._make(p) for p in pending]


def split(records: list[Pending], max_bytes: int, level: int) -> list[tuple[list[Pending], bytes]]:
    """Bodies no larger than ``max_bytes`` (uncompressed JSON is the bound
    the server applies after inflating), halving a batch until it fits."""
    raw = encode_raw(records)
    if len(raw) <= max_bytes or len(records) == 1:
        return [(records, gzip.compress(raw, compresslevel=level, mtime=0))]
    half = len(records) // 2
    return split(records[:half], max_bytes, level) + split(records[half:], max_bytes, level)


def verdict(status: int) -> str:
    """``sent``, ``retry`` or ``drop`` for a batch answered with ``status``."""
    if status < 300:
        return "sent"
    return "retry" if retryable_status(status) else "drop"
