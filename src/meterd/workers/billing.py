"""The billing worker: turns due pending lines into invoices and moves them on.

Each pass first lets the configured sources add what is owed (subscription
periods that have started or ended), then steps every invoice with work due:
gathering lines whose time has come become a draft, drafts are collected and
issued when their wait is over, unpaid invoices past due become overdue.

Several workers may run against one PostgreSQL database: each invoice is
stepped under a row lock taken with SKIP LOCKED, so a worker passes over an
invoice another one is working on instead of repeating its work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from meterd.domain.billing import Invoice, InvoiceActions, InvoiceService

log = logging.getLogger("meterd.workers.billing")
BATCH = 500
# Invoices stepped in one transaction: one commit for many, one rollback at worst.
CHUNK = 50

Feeder = Callable[[], object]


class BillingWorker:
    def __init__(
        self,
        invoices: InvoiceService,
        actions: InvoiceActions,
        *,
        feeders: Sequence[Feeder] = (),
        poll_seconds: float = 5.0,
    ) -> None:
        self._invoices = invoices
        self._actions = actions
        self._feeders = list(feeders)
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add_feeder(self, feeder: Feeder) -> None:
        self._feeders.append(feeder)

    def run_once(self) -> list[Invoice]:
        """One pass; returns the invoices it created or changed."""
        with self._invoices.usage_batch():
            return self._pass()

    def _pass(self) -> list[Invoice]:
        for feed in self._feeders:
            try:
                feed()
            except Exception:
                log.exception("billing feed failed")
        changed: list[Invoice] = []
        seen: set[tuple[str, str]] = set()
        while True:
            now = self._invoices.clock.now()
            due = [d for d in self._invoices.store.due_invoices(now, BATCH) if d not in seen]
            if not due:
                return changed
            seen.update(due)
            for lo in range(0, len(due), CHUNK):
                chunk = due[lo : lo + CHUNK]
                try:
                    changed.extend(self._actions.collect_due_many(chunk))
                except Exception:
                    changed.extend(self._one_by_one(chunk))

    def _one_by_one(self, keys: list[tuple[str, str]]) -> list[Invoice]:
        """Step each invoice alone, so one that fails holds up no other."""
        changed: list[Invoice] = []
        for namespace, invoice_id in keys:
            try:
                changed.extend(self._actions.collect_due(namespace, invoice_id))
            except Exception:
                log.exception("cannot step invoice %s", invoice_id)
        return changed

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="meterd-billing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("billing pass failed")
            self._wake.wait(self._poll)
            self._wake.clear()
