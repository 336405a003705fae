"""Invoices: pending lines, invoicing now, simulation, and reads.

Lines wait on the one gathering invoice of their customer and currency until
they are invoiced, either when due (the billing worker) or on request. The
actions on invoices themselves are in ``meterd.domain.billing.actions``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from meterd.core.clock import Clock
from meterd.core.errors import ConflictError, IssueCollector, NotFoundError, ValidationError
from meterd.core.ids import new_ulid
from meterd.core.periods import parse_rfc3339
from meterd.domain.billing import engine
from meterd.domain.billing.flow import Flow
from meterd.domain.billing.lifecycle import Ext
from meterd.domain.billing.lines import currency_of, parse_lines
from meterd.domain.billing.models import (
    Invoice,
    InvoiceListQuery,
    InvoiceStatus,
    Line,
    ManagedBy,
    TaxConfig,
    Workflow,
)
from meterd.domain.billing.ports import (
    CustomerView,
    InvoiceAnnouncer,
    InvoiceStore,
    InvoiceTx,
    UsageSource,
    no_announcer,
)
from meterd.domain.billing.profiles import ProfileService
from meterd.domain.billing.rating import SPLIT_FROM
from meterd.domain.billing.workflow import add_duration


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingResult:
    lines: tuple[Line, ...]
    invoice: Invoice
    is_new: bool


def customer_snapshot(customer: CustomerView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": customer.id,
        "name": customer.name,
        "usageAttribution": {"subjectKeys": list(customer.subject_keys)},
    }
    if customer.key:
        out["key"] = customer.key
    if customer.address:
        out["addresses"] = [customer.address]
    return out


def _remaining(gathering: Invoice, lines: Sequence[Line], now: datetime) -> Invoice:
    """The gathering invoice with what is left; one with nothing left is gone."""
    deleted = now if not lines else None
    return replace(gathering, lines=tuple(lines), updated_at=now, deleted_at=deleted)


def _correction(invoiced: Line, line: Line, billed: Mapping[str, Line]) -> Line | None:
    """A line that corrects an invoiced period whose end has since moved.

    It charges the period as it now is, less what was invoiced; a period cut
    short by a cancellation gives money back this way.
    """
    if invoiced.period_end == line.period_end or invoiced.adjusts is not None:
        return None
    if (invoiced.price, invoiced.proration) == (line.price, line.proration):
        # Charged the same either way (a one-time fee, say).
        return None
    key = f"{line.source_key}@{line.period_end.isoformat()}"
    if key in billed:
        return None
    t = invoiced.totals
    return replace(
        line,
        name=f"Correction: {line.name}",
        source_key=key,
        billed_amount=t.amount + t.charges_total - t.discounts_total,
        adjusts=invoiced.id,
    )


def _profile_tax(invoice: Invoice) -> TaxConfig | None:
    return invoice.workflow.default_tax_config


class InvoiceService:
    def __init__(
        self,
        store: InvoiceStore,
        profiles: ProfileService,
        usage: UsageSource,
        clock: Clock,
        announce: InvoiceAnnouncer = no_announcer,
    ) -> None:
        self._store = store
        self._profiles = profiles
        self._usage = usage
        self._clock = clock
        self._announce: InvoiceAnnouncer = announce
        self._before_invoicing: list[Callable[[str, str], object]] = []
        self.flow = Flow(usage, _profile_tax)

    def on_change(self, announce: InvoiceAnnouncer) -> None:
        self._announce = announce

    def before_invoicing(self, sync: Callable[[str, str], object]) -> None:
        """Run ``sync(namespace, customer_id)`` before a customer is invoiced on request."""
        self._before_invoicing.append(sync)

    @property
    def store(self) -> InvoiceStore:
        return self._store

    def usage_batch(self) -> AbstractContextManager[None]:
        """Usage reads for many customers at once (a billing pass)."""
        return self._usage.batch()

    @property
    def clock(self) -> Clock:
        return self._clock

    def workflow_of(self, namespace: str, customer_id: str) -> Workflow:
        return self._profiles.effective(namespace, customer_id).workflow

    def customer(self, namespace: str, id_or_key: str) -> CustomerView:
        return self._profiles.customer(namespace, id_or_key)

    def announce(self, invoice: Invoice, created: bool) -> None:
        if invoice.status is not InvoiceStatus.GATHERING:
            self._announce(invoice, created)

    # --- gathering ------------------------------------------------------

    def new_gathering(self, namespace: str, customer: CustomerView, currency: str) -> Invoice:
        now = self._clock.now()
        effective = self._profiles.effective(namespace, customer.id)
        return Invoice(
            id=new_ulid(),
            namespace=namespace,
            customer_id=customer.id,
            currency=currency,
            status=InvoiceStatus.GATHERING,
            extended_status=Ext.GATHERING.value,
            profile_id=effective.profile.id,
            workflow=effective.workflow,
            supplier=effective.profile.supplier,
            customer=customer_snapshot(customer),
            tax_config=effective.tax_config,
            created_at=now,
            updated_at=now,
        )

    def _check_features(self, namespace: str, lines: Sequence[Line]) -> None:
        issues = IssueCollector()
        for i, line in enumerate(lines):
            key = line.feature_key
            if line.is_usage and key is not None and not self._usage.has_meter(namespace, key):
                issues.add(
                    f"lines[{i}].featureKey",
                    "not_found",
                    f"feature {key} does not exist or has no meter",
                )
        issues.raise_if_any()

    def add_lines(
        self, namespace: str, customer: CustomerView, currency: str, lines: Sequence[Line]
    ) -> PendingResult:
        """Put ``lines`` on the customer's gathering invoice of ``currency``.

        Lines with a ``source_key`` already billed or pending are skipped, so
        a subscription can be synced any number of times.
        """
        now = self._clock.now()
        # Made before the transaction: it may create the default profile.
        template = self.new_gathering(namespace, customer, currency)
        for attempt in range(3):
            try:
                with self._store.invoice_tx() as tx:
                    return self._add(tx, template, lines, now)
            except ConflictError:
                # Two requests created the gathering invoice at once; the
                # other one's is there now.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _add(
        self, tx: InvoiceTx, template: Invoice, lines: Sequence[Line], now: datetime
    ) -> PendingResult:
        namespace, customer_id = template.namespace, template.customer_id
        gathering = tx.gathering(namespace, customer_id, template.currency)
        is_new = gathering is None
        if gathering is None:
            gathering = template
        billed: dict[str, Line] = {}
        if any(line.source_key for line in lines):
            for inv in tx.customer_invoices(namespace, customer_id):
                if not inv.is_gathering:
                    billed.update((ln.source_key, ln) for ln in inv.lines if ln.source_key)
        pending = {ln.source_key: ln for ln in gathering.lines if ln.source_key}
        kept = list(gathering.lines)
        added: list[Line] = []
        for line in lines:
            line = replace(line, created_at=now, updated_at=now)
            key = line.source_key
            if key is None:
                added.append(line)
            elif key in pending:
                if pending[key].period_end != line.period_end:
                    # The period was cut short (a cancellation or plan change).
                    kept = [line if ln.source_key == key else ln for ln in kept]
                    added.append(line)
            elif key in billed:
                correction = _correction(billed[key], line, billed)
                if correction is not None:
                    added.append(correction)
            else:
                added.append(line)
        fresh = {ln.id for ln in kept}
        kept.extend(ln for ln in added if ln.id not in fresh)
        updated = replace(gathering, lines=tuple(kept), updated_at=now)
        if added or not is_new:
            tx.save(updated)
        return PendingResult(lines=tuple(added), invoice=updated, is_new=is_new and bool(added))

    def create_pending_lines(
        self, namespace: str, customer_id: str, body: Mapping[str, Any]
    ) -> PendingResult:
        customer = self._profiles.customer(namespace, customer_id)
        issues = IssueCollector()
        currency = currency_of(body, issues)
        lines = parse_lines(body.get("lines"), "lines", issues)
        issues.raise_if_any()
        self._check_features(namespace, lines)
        result = self.add_lines(namespace, customer, currency, lines)
        now = self._clock.now()
        preview = self.flow.preview(result.invoice, now)
        ids = {line.id for line in result.lines}
        return PendingResult(
            lines=tuple(line for line in preview.lines if line.id in ids),
            invoice=preview,
            is_new=result.is_new,
        )

    def drop_stale(self, namespace: str, customer_id: str, wanted: set[str]) -> None:
        """Take pending subscription lines off when their period no longer exists."""
        now = self._clock.now()
        for gathering in self._store.customer_invoices(namespace, customer_id):
            if not gathering.is_gathering:
                continue
            with self._store.locked_invoice(namespace, gathering.id) as (locked, tx):
                if locked is None or not locked.is_gathering:
                    continue
                keep = [
                    line
                    for line in locked.lines
                    if line.managed_by is not ManagedBy.SUBSCRIPTION or line.source_key in wanted
                ]
                if len(keep) != len(locked.lines):
                    tx.save(_remaining(locked, keep, now))

    # --- simulation -----------------------------------------------------

    def simulate(self, namespace: str, customer_id: str, body: Mapping[str, Any]) -> Invoice:
        """Price lines at given quantities as an invoice of the customer; nothing is stored."""
        customer = self._profiles.customer(namespace, customer_id)
        issues = IssueCollector()
        currency = currency_of(body, issues)
        lines = parse_lines(body.get("lines"), "lines", issues, with_quantity=True)
        number = body.get("number")
        if number is not None and not isinstance(number, str):
            issues.add("number", "invalid_type", "number is a string")
        issues.raise_if_any()
        draft = self.new_gathering(namespace, customer, currency)
        start, end = engine.bounds(lines)
        draft = replace(
            draft,
            status=InvoiceStatus.DRAFT,
            extended_status=Ext.DRAFT_CREATED.value,
            number=number if isinstance(number, str) else None,
            lines=tuple(replace(line, managed_by=ManagedBy.MANUAL) for line in lines),
            period_start=start,
            period_end=end,
        )
        return engine.rate(draft, _profile_tax(draft))

    # --- invoicing now --------------------------------------------------

    def invoice_now(self, namespace: str, body: Mapping[str, Any]) -> list[Invoice]:
        issues = IssueCollector()
        customer_id = body.get("customerId")
        if not isinstance(customer_id, str) or not customer_id:
            issues.add("customerId", "required", "customerId names the customer to invoice")
        as_of = None
        if body.get("asOf") is not None:
            try:
                as_of = parse_rfc3339(str(body.get("asOf")))
            except ValueError:
                issues.add("asOf", "invalid_time", "asOf is an RFC 3339 timestamp")
        filters = body.get("filters") or {}
        line_ids = filters.get("lineIds") if isinstance(filters, Mapping) else None
        if line_ids is not None and not (
            isinstance(line_ids, list) and all(isinstance(i, str) for i in line_ids)
        ):
            issues.add("filters.lineIds", "invalid_type", "lineIds is an array of line ids")
        progressive = body.get("progressiveBillingOverride")
        if progressive is not None and not isinstance(progressive, bool):
            issues.add("progressiveBillingOverride", "invalid_type", "must be true or false")
        issues.raise_if_any()
        assert isinstance(customer_id, str)
        customer = self._profiles.customer(namespace, customer_id)
        for sync in self._before_invoicing:
            sync(namespace, customer.id)
        now = self._clock.now()
        at = min(as_of or now, now)
        out: list[Invoice] = []
        gatherings = [
            inv for inv in self._store.customer_invoices(namespace, customer.id) if inv.is_gathering
        ]
        for gathering in gatherings:
            with self._store.locked_invoice(namespace, gathering.id) as (locked, tx):
                if locked is None or not locked.is_gathering:
                    continue
                allow = (
                    progressive if progressive is not None else locked.workflow.progressive_billing
                )
                take, keep = self.split_due(locked, at, allow, set(line_ids) if line_ids else None)
                if not take:
                    continue
                tx.save(_remaining(locked, keep, now))
                out.append(self.flow.draft_from(tx, locked, take, now, collect_at=now))
        if not out:
            raise ValidationError.single(
                "customerId",
                "no_invoiceable_lines",
                "the customer has no lines to invoice as of asOf",
            )
        for invoice in out:
            self.announce(invoice, True)
        return out

    def split_due(
        self, gathering: Invoice, at: datetime, progressive: bool, only: set[str] | None
    ) -> tuple[list[Line], list[Line]]:
        """Lines to invoice at ``at`` and lines that stay; usage lines split at ``at``."""
        take: list[Line] = []
        keep: list[Line] = []
        for line in gathering.lines:
            if only is not None and line.id not in only:
                keep.append(line)
            elif line.invoice_at <= at or line.period_end <= at:
                take.append(line)
            elif progressive and line.is_usage and line.period_start < at:
                part = replace(line, id=new_ulid(), period_end=at, invoice_at=at)
                take.append(replace(part, metadata={**line.metadata, SPLIT_FROM: line.id}))
                keep.append(
                    replace(
                        line, period_start=at, usage_start=line.usage_start or line.period_start
                    )
                )
            else:
                keep.append(line)
        return take, keep

    # --- reads ----------------------------------------------------------

    def get(self, namespace: str, invoice_id: str) -> Invoice:
        invoice = self._store.get_invoice(namespace, invoice_id)
        if invoice is None:
            raise NotFoundError(f"invoice {invoice_id} not found")
        if invoice.is_gathering:
            return self.flow.preview(invoice, self._clock.now())
        return invoice

    def list_invoices(self, query: InvoiceListQuery) -> tuple[list[Invoice], int]:
        items, total = self._store.list_invoices(query)
        now = self._clock.now()
        return [self.flow.preview(i, now) if i.is_gathering else i for i in items], total

    def due_at(self, namespace: str, invoice: Invoice) -> datetime | None:
        """When the billing worker next has something to do for ``invoice``."""
        del namespace
        if invoice.is_gathering and invoice.lines:
            return min(line.invoice_at for line in invoice.lines)
        return None

    def collect_after(self, invoice: Invoice, lines: Sequence[Line], now: datetime) -> datetime:
        """When usage of ``lines`` is complete: late events may still come until then."""
        ends = [line.period_end for line in lines if line.is_usage]
        if not ends:
            return now
        return add_duration(max(ends), invoice.workflow.collection_interval)
