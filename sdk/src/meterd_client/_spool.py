"""The write-ahead spool: every queued event is appended to a local file
before ``track`` returns and removed only once the server acknowledged it.

Each client writes its own segment files and holds an exclusive ``flock`` on
them while it lives; the kernel drops the lock when the process dies, however
it dies. A segment nobody holds a lock on is an orphan: the next client that
opens the spool claims it and sends its events again. Events carry their ids,
so whatever had already arrived is counted once.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEGMENT_EVENTS = 50_000


@dataclass(slots=True)
class Segment:
    path: Path
    fd: int
    written: int = 0
    acked: int = 0
    sealed: bool = False


class Spool:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segments: dict[int, Segment] = {}
        self._next = 0
        self._current: Segment | None = None
        self._current_no = -1

    def claim_orphans(self) -> list[tuple[int, list[Mapping[str, Any]]]]:
        """Segments left by dead writers, locked for this client, with their events."""
        found: list[tuple[int, list[Mapping[str, Any]]]] = []
        for path in sorted(self.dir.glob("*.spool")):
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                continue  # another client finished it first
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)  # a live writer holds it
                continue
            if not path.exists():
                os.close(fd)
                continue
            events = []
            with open(fd, "rb", closefd=False) as f:
                for line in f:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        continue  # the dead writer's last, torn line never became an event
            no = self._new_number()
            self.segments[no] = Segment(path, fd, written=len(events), sealed=True)
            found.append((no, events))
            if not events:
                self._finish(no)
        return found

    def _new_number(self) -> int:
        self._next += 1
        return self._next

    def append(self, event: Mapping[str, Any]) -> int:
        """Write one event through to the OS (no user-space buffer to lose)."""
        seg = self._current
        if seg is None or seg.written >= SEGMENT_EVENTS:
            seg = self._open_segment()
        os.write(seg.fd, json.dumps(event, separators=(",", ":"), default=str).encode() + b"\n")
        seg.written += 1
        return self._current_no

    def _open_segment(self) -> Segment:
        if self._current is not None:
            self._current.sealed = True
            self._maybe_finish(self._current_no)
        no = self._new_number()
        path = self.dir / f"{os.getpid()}-{os.urandom(6).hex()}-{no}.spool"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        seg = Segment(path, fd)
        self.segments[no] = seg
        self._current, self._current_no = seg, no
        return seg

    def ack(self, counts: Mapping[int, int]) -> None:
        for no, n in counts.items():
            seg = self.segments.get(no)
            if seg is not None:
                seg.acked += n
                self._maybe_finish(no)

    def _maybe_finish(self, no: int) -> None:
        seg = self.segments[no]
        if seg.sealed and seg.acked >= seg.written:
            self._finish(no)

    def _finish(self, no: int) -> None:
        seg = self.segments.pop(no)
        seg.path.unlink(missing_ok=True)
        os.close(seg.fd)
        if seg is self._current:
            self._current, self._current_no = None, -1

    def close(self) -> None:
        """Remove fully acknowledged segments; leave the rest for the next client."""
        for no in list(self.segments):
            seg = self.segments[no]
            if seg.acked >= seg.written:
                self._finish(no)
            else:
                os.close(seg.fd)
                del self.segments[no]
        self._current, self._current_no = None, -1

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's segments without touching them."""
        for seg in self.segments.values():
            os.close(seg.fd)
        self.segments.clear()
        self._current, self._current_no = None, -1
