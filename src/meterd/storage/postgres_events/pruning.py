"""Forgetting dedupe claims older than the dedupe window, in the background.

Only with ``METERD_DEDUPE_WINDOW_SECONDS`` set: without a window, claims are
kept forever and dedupe is exact for all time. Every server process may run
a pruner; deleting claims that another process already deleted is harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Protocol

log = logging.getLogger("meterd.storage")


class Prunable(Protocol):
    def prune_keys(self) -> int: ...


class KeyPruner:
    def __init__(self, store: Prunable, window: timedelta, every: float | None = None) -> None:
        self._store = store
        # Claims outlive the window by at most half of it (and a minute).
        self._every = every if every is not None else max(window.total_seconds() / 2, 60.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="meterd-prune", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                n = self._store.prune_keys()
            except Exception:
                log.exception("pruning expired dedupe claims failed; retrying next round")
                continue
            if n:
                log.info("forgot %d dedupe claims older than the dedupe window", n)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
