"""The composition root: the one place that names concrete classes."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from meterd.core.clock import Clock, SystemClock
from meterd.domain.auth import AuthService
from meterd.domain.billing import (
    CustomerDirectory,
    Invoice,
    InvoiceActions,
    InvoiceService,
    MeteredUsage,
    ProfileService,
)
from meterd.domain.billing.credits import CreditLedgerService
from meterd.domain.billing.subscription_lines import SubscriptionBilling
from meterd.domain.catalog.addons import AddonService
from meterd.domain.catalog.plans import PlanService
from meterd.domain.compat import AccessTokens, EventCorrections, ExternalIds, MeterDependents
from meterd.domain.customers import CustomerService
from meterd.domain.entitlements import EntitlementService
from meterd.domain.events import EventService, EventStore
from meterd.domain.features import FeatureService
from meterd.domain.idempotency import IdempotencyService
from meterd.domain.meters import MeterService, UsageReader
from meterd.domain.notifications import (
    BalanceEvaluator,
    BalanceSource,
    DeliveryService,
    FeatureLookup,
    NotificationService,
    RetryPolicy,
)
from meterd.domain.portal import PortalService
from meterd.domain.subscriptions import SubscriptionService
from meterd.observability.readiness import Readiness, event_probe, state_probe
from meterd.observability.timing import CountedSender, TimedUsage
from meterd.settings import Settings
from meterd.storage import duckdb_path, resolve, scheme_of
from meterd.storage.groupcommit import GroupCommitStore
from meterd.workers.balances import EntitlementBalances, FeatureRefs, ResetAnnouncer
from meterd.workers.billing import BillingWorker
from meterd.workers.notifications import NotificationWorker
from meterd.workers.subscription_sync import SubscriptionSweep
from meterd.workers.webhooks import WebhookSender

log = logging.getLogger("meterd.bootstrap")
# How often the billing worker looks for due invoices when nothing wakes it.
BILLING_POLL_SECONDS = 2.0


@dataclass
class Container:
    settings: Settings
    clock: Clock
    auth: AuthService
    meters: MeterService
    customers: CustomerService
    events: EventService
    state: Any
    event_store: EventStore
    portal: PortalService
    notifications: NotificationService
    features: FeatureService
    entitlements: EntitlementService
    plans: PlanService
    addons: AddonService
    external_ids: ExternalIds
    access_tokens: AccessTokens
    corrections: EventCorrections
    subscriptions: SubscriptionService
    idempotency: IdempotencyService
    billing_profiles: ProfileService
    invoices: InvoiceService
    invoice_actions: InvoiceActions
    credit_ledger: CreditLedgerService
    _closers: list[Any] = field(default_factory=list)
    # Probes behind /readyz.
    readiness: Readiness = field(default_factory=Readiness)
    # Started and stopped with the served app (see meterd.workers.lifespan).
    background: list[Any] = field(default_factory=list)
    # Announces a committed entitlement reset to ``entitlements.reset`` rules.
    announce_reset: Callable[[str, str], None] = field(default=lambda _ns, _id: None)
    # Signs web console sessions (meterd.web).
    console_secret: bytes = b""
    # Invoice documents for the console (meterd.web), when billing renders them.
    invoice_documents: Any = None

    def close(self) -> None:
        """Commit what is queued, then release the stores (idempotent)."""
        while self._closers:
            self._closers.pop()()


def open_state(settings: Settings, *, migrate: bool = False) -> Any:
    """The state store alone, for commands that need no event store.

    SQLite migrates itself on open. A shared PostgreSQL database must have
    been migrated with ``meterd migrate`` (``migrate=True``) beforehand.
    """
    url = settings.state_url()
    if scheme_of(url) == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    elif not migrate and scheme_of(url).startswith("postgresql"):
        from meterd.storage.schema_status import require_migrated_state

        require_migrated_state(url)
    return resolve("state", url)(url)


def migrate_stores(settings: Settings) -> list[str]:
    """Bring every store's schema up to date; returns what was migrated."""
    open_state(settings, migrate=True).close()
    done = [f"state store ({scheme_of(settings.state_url())})"]
    url = settings.event_url()
    if scheme_of(url).startswith("postgresql"):
        resolve("events", url)(url, SystemClock(), migrate=True).close()
        done.append("event store (postgresql)")
    elif scheme_of(url) in ("clickhouse", "chdb"):
        # Creates the tables, or on a cluster (?cluster=NAME) the replicated
        # local tables and the Distributed tables over them, ON CLUSTER.
        resolve("events", url)(url, SystemClock()).close()
        done.append(f"event store ({scheme_of(url)})")
    return done


def copy_state_store(settings: Settings, target_url: str) -> dict[str, int]:
    """Copy the configured state store into ``target_url``; rows per table.

    The source is brought to this release's schema first (SQLite migrates
    itself); a PostgreSQL target must have been migrated with ``meterd migrate``.
    """
    from meterd.storage.state_copy import copy_state

    open_state(settings).close()
    target = settings.model_copy(update={"database_url": target_url})
    open_state(target).close()
    return copy_state(settings.state_url(), target_url)


def open_event_store(settings: Settings, clock: Clock) -> Any:
    url = settings.event_url()
    cls = resolve("events", url)
    window = (
        timedelta(seconds=settings.dedupe_window_seconds)
        if settings.dedupe_window_seconds
        else None
    )
    if scheme_of(url) == "duckdb":
        return cls(
            duckdb_path(url),
            clock,
            dedupe_window=window,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads or None,
        )
    if scheme_of(url) == "clickhouse" and scheme_of(settings.state_url()).startswith("postgresql"):
        # Servers sharing a ClickHouse share this PostgreSQL too; it holds the
        # dedupe claims that keep their appends exact (docs/clickhouse.md).
        return cls(url, clock, dedupe_window=window, claims_url=settings.state_url())
    return cls(url, clock, dedupe_window=window)


def build(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    state = open_state(settings)
    raw_events = open_event_store(settings, clock)
    # Reads are timed into the query-latency metric on their way to the store.
    timed = TimedUsage(raw_events)
    usage: UsageReader = timed
    grouped = GroupCommitStore(raw_events, max_delay_seconds=settings.commit_delay_ms / 1000)
    customers = CustomerService(state, state, clock)
    meters = MeterService(state, usage, customers, clock)
    features = FeatureService(state, state, clock)
    entitlements = EntitlementService(
        entitlements=state,
        grants=state,
        snapshots=state,
        customers=state,
        features=features,
        usage=timed,
        clock=clock,
    )
    # Thresholds are evaluated here even when webhooks are delivered by
    # separate ``meterd worker`` processes: usage lives in this process's
    # event store, which an embedded DuckDB file keeps to one process.
    balances = EntitlementBalances(entitlements, features, clock)
    notifications, worker = build_notifications(
        settings,
        state,
        clock,
        deliver=settings.worker,
        balances=balances,
        features=FeatureRefs(features),
    )
    plans = PlanService(state, state, clock)
    auth = AuthService(state, clock, cache_seconds=settings.key_cache_seconds)
    container = Container(
        settings=settings,
        clock=clock,
        auth=auth,
        meters=meters,
        customers=customers,
        events=EventService(grouped, clock, queue=grouped),
        state=state,
        event_store=grouped,
        # Portal invalidations reach other processes at most a second late,
        # and at once when keys are not cached at all.
        portal=PortalService(
            state, meters, customers, clock, cache_seconds=min(settings.key_cache_seconds, 1.0)
        ),
        notifications=notifications,
        features=features,
        entitlements=entitlements,
        plans=plans,
        addons=AddonService(state, state, plans, clock),
        subscriptions=SubscriptionService(
            store=state,
            plans=state,
            addons=state,
            features=state,
            entitlements=entitlements,
            clock=clock,
        ),
        idempotency=IdempotencyService(state, clock),
        announce_reset=ResetAnnouncer(balances, notifications),
        external_ids=ExternalIds(state, clock),
        access_tokens=AccessTokens(auth, state, clock),
        corrections=EventCorrections(grouped, customers, entitlements, state),
        **build_billing(state, customers, meters, features, usage, clock),
    )
    container.background.append(SubscriptionSweep(container.subscriptions))
    billing_worker = BillingWorker(
        container.invoices, container.invoice_actions, poll_seconds=BILLING_POLL_SECONDS
    )
    container.background.append(billing_worker)
    container.invoices.on_change(InvoiceAnnouncements(notifications, state, clock))
    container.corrections.reprice_drafts_with(container.invoices, container.invoice_actions)
    meter_dependents = MeterDependents(features, entitlements, state)
    meter_dependents.reprice_drafts_with(container.invoices, container.invoice_actions)
    meters.add_dependents(meter_dependents)
    subscription_billing = SubscriptionBilling(container.invoices, container.subscriptions, state)
    container.invoices.before_invoicing(subscription_billing.sync_customer)
    billing_worker.add_feeder(subscription_billing.sync_all)
    container._closers.extend([state.close, grouped.close])
    container.readiness.checks.update(state=state_probe(state), events=event_probe(raw_events))
    if settings.dedupe_window_seconds and scheme_of(settings.event_url()).startswith("postgresql"):
        from meterd.storage.postgres_events.pruning import KeyPruner

        window = timedelta(seconds=settings.dedupe_window_seconds)
        container.background.append(KeyPruner(raw_events, window))
    container.console_secret = console_secret(settings)
    container.invoice_documents = InvoiceDocuments(clock)
    if worker is not None:
        container.background.append(worker)
    return container


def build_billing(
    state: Any,
    customers: CustomerService,
    meters: MeterService,
    features: FeatureService,
    usage: UsageReader,
    clock: Clock,
) -> dict[str, Any]:
    profiles = ProfileService(state, CustomerDirectory(customers), clock)
    metered = MeteredUsage(features, meters, usage, customers)
    invoices = InvoiceService(state, profiles, metered, clock)
    return {
        "billing_profiles": profiles,
        "invoices": invoices,
        "invoice_actions": InvoiceActions(invoices),
        "credit_ledger": CreditLedgerService(state, invoices.customer, clock),
    }


class InvoiceAnnouncements:
    """Announces invoices to ``invoice.created`` / ``invoice.updated`` rules."""

    def __init__(self, notifications: NotificationService, rules: Any, clock: Clock) -> None:
        self._notifications = notifications
        self._rules = rules
        self._clock = clock

    def __call__(self, invoice: Invoice, created: bool) -> None:
        from meterd.api.v1.billing_wire import invoice as invoice_wire
        from meterd.domain.notifications.models import EventType

        kind = EventType.INVOICE_CREATED if created else EventType.INVOICE_UPDATED
        key = f"{invoice.id}:{invoice.extended_status}:{invoice.updated_at.isoformat()}"
        try:
            # The payload is the whole invoice: only built when a rule listens.
            if not self._rules.active_rules(invoice.namespace, kind):
                return
            payload = invoice_wire(invoice, self._clock.now())
            self._notifications.notify(invoice.namespace, kind, payload, dedupe_key=key)
        except Exception:
            # The invoice has committed; a notification failure must not undo it.
            log.exception("cannot announce invoice %s", invoice.id)


def build_notifications(
    settings: Settings,
    state: Any,
    clock: Clock,
    *,
    deliver: bool,
    balances: BalanceSource | None = None,
    features: FeatureLookup | None = None,
) -> tuple[NotificationService, NotificationWorker | None]:
    """The notification service and, if it has anything to do, its worker.

    The worker delivers webhooks when ``deliver`` is set and evaluates
    balance thresholds when ``balances`` is given; with neither, there is
    no worker.
    """
    window = timedelta(seconds=settings.webhook_retry_window_seconds)
    service = NotificationService(state, clock, retry_window=window, features=features)
    evaluator = BalanceEvaluator(state, service, balances) if balances is not None else None
    if not deliver and evaluator is None:
        return service, None
    deliveries = None
    sender = None
    if deliver:
        policy = RetryPolicy(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=settings.webhook_retry_max_delay_seconds),
        )
        # The lease outlasts any one send (connect, write and read each get
        # the timeout) plus recording the result, so a live worker keeps
        # what it is sending; a dead one's deliveries come due again soon.
        lease = timedelta(seconds=3 * settings.webhook_timeout_seconds + 5)
        deliveries = DeliveryService(state, clock, policy=policy, lease=lease)
        sender = CountedSender(WebhookSender(timeout_seconds=settings.webhook_timeout_seconds))
    worker = NotificationWorker(
        deliveries,
        sender,
        evaluator=evaluator,
        concurrency=settings.webhook_concurrency,
        poll_seconds=settings.notification_poll_seconds,
        evaluate_seconds=settings.notification_evaluate_seconds,
        drain_seconds=settings.webhook_timeout_seconds + 1,
    )
    if deliver:
        service.on_enqueue(worker.wake)
    if evaluator is not None:
        service.on_threshold_rules_changed(worker.evaluate_soon)
    return service, worker


class WorkerGroup:
    """Background services started and stopped together (``meterd worker``)."""

    def __init__(self, services: list[Any]) -> None:
        self.services = services

    def start(self) -> None:
        for service in self.services:
            service.start()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def build_worker(settings: Settings, clock: Clock | None = None) -> tuple[Any, Any]:
    """A stand-alone worker and what to close after it.

    It delivers webhooks from the state store. With an event store that
    several processes can share (not the embedded DuckDB file, which
    belongs to the server), it also runs the billing worker.
    """
    clock = clock or SystemClock()
    if scheme_of(settings.event_url()) != "duckdb":
        container = build(settings, clock)
        wanted = (NotificationWorker, BillingWorker)
        services = [s for s in container.background if isinstance(s, wanted)]
        return WorkerGroup(services), container
    state = open_state(settings)
    try:
        _, worker = build_notifications(settings, state, clock, deliver=True)
    except BaseException:
        state.close()
        raise
    assert worker is not None
    return worker, state


def console_secret(settings: Settings) -> bytes:
    """The key that signs console sessions, kept in the data directory.

    Kept on disk so sessions outlive a restart; servers behind one load
    balancer share it by sharing the file.
    """
    path = settings.data_dir / "console.secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first: use theirs.
        return bytes.fromhex(path.read_text().strip())
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex())
    return secret


class InvoiceDocuments:
    """The API's invoice documents, for the console's invoice pages.

    The rendering is imported when first used, so commands that never serve
    pages do not load the web framework.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def _wire(self, invoice: Any) -> dict[str, Any]:
        from meterd.api.responses import dumps
        from meterd.api.v1 import billing_wire

        loaded: dict[str, Any] = json.loads(dumps(billing_wire.invoice(invoice, self._clock.now())))
        return loaded

    def html(self, invoice: Any) -> str:
        from meterd.api.v1.billing_documents import render_html

        return render_html(self._wire(invoice))

    def pdf(self, invoice: Any) -> bytes:
        from meterd.api.v1.billing_documents import render_pdf

        return render_pdf(self._wire(invoice))
