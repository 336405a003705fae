"""Starting and ending subscription entitlements on time.

Operations reconcile a customer's entitlements when they run; items that
start or end later (a next phase, a scheduled cancelation) are caught by this
sweep, which reconciles every running subscription every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("meterd.workers.subscriptions")


class Sweepable(Protocol):
    def sync_due(self) -> int: ...


class SubscriptionSweep:
    def __init__(self, subscriptions: Sweepable, interval: float = 10.0) -> None:
        self._subscriptions = subscriptions
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="meterd-subscriptions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._subscriptions.sync_due()
            except Exception:
                # The next sweep retries; one bad subscription must not stop the rest.
                log.exception("subscription entitlement sweep failed")
