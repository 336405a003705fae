"""Edit operations on a subscription's phases and items (OpenMeter ``SubscriptionEdit``).

Each operation takes effect at ``at``: the part of the subscription before
``at`` is history and never changes. An item edited inside a running phase is
cut there (its version ends at ``at``, a new one starts), an item of a phase
still to come is replaced outright.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from meterd.core.errors import IssueCollector, ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog.plans import RateCard, parse_rate_card
from meterd.domain.catalog.plans._ratecards import key_of, text
from meterd.domain.catalog.pricing import parse_discounts
from meterd.domain.entitlements.durations import CalendarInterval
from meterd.domain.subscriptions.models import Item, Phase, Span, Subscription, item_span

FeatureExists = Callable[[str], bool]
OPS = ("add_item", "remove_item", "add_phase", "remove_phase", "stretch_phase", "unschedule_edit")


class _Bad(Exception):
    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


def _spans(phases: Sequence[Phase], end: datetime | None) -> list[Span]:
    return [
        Span(start=p.active_from, end=phases[i + 1].active_from if i + 1 < len(phases) else end)
        for i, p in enumerate(phases)
    ]


def _index(phases: Sequence[Phase], key: object, where: str) -> int:
    for i, p in enumerate(phases):
        if p.key == key:
            return i
    raise _Bad(where, "unknown_phase", f"the subscription has no phase {key}")


def _signed(raw: object, where: str) -> tuple[CalendarInterval, int]:
    if not isinstance(raw, str):
        raise _Bad(where, "invalid_duration", "an ISO 8601 duration")
    sign = -1 if raw.startswith("-") else 1
    try:
        return CalendarInterval.parse(raw.lstrip("-+")), sign
    except ValueError:
        raise _Bad(where, "invalid_duration", "an ISO 8601 duration") from None


def _shift(phases: list[Phase], frm: int, step: CalendarInterval, k: int) -> None:
    for j in range(frm, len(phases)):
        phases[j] = replace(phases[j], active_from=step.add(phases[j].active_from, k))


def _cut_items(phase: Phase, span: Span, key: str, at: datetime) -> tuple[Item, ...]:
    """The phase's items with every version of ``key`` ended at ``at``."""
    out: list[Item] = []
    for item in phase.items:
        if item.key != key:
            out.append(item)
            continue
        s = item_span(item, span)
        if s.start >= at:
            continue  # never ran: gone
        if s.end is None or s.end > at:
            item = replace(item, active_to=at, updated_at=at)
        out.append(item)
    return tuple(out)


class _Editor:
    def __init__(self, sub: Subscription, at: datetime, now: datetime, exists: FeatureExists):
        self.sub, self.at, self.now, self.exists = sub, at, now, exists
        self.phases = list(sub.phases)
        self.unscheduled = False

    def span(self, i: int) -> Span:
        return _spans(self.phases, self.sub.active_to)[i]

    def open_phase(self, key: object, where: str) -> int:
        i = _index(self.phases, key, where)
        span = self.span(i)
        if span.end is not None and span.end <= self.at:
            raise _Bad(where, "phase_ended", f"phase {key} has ended")
        return i

    def add_item(self, op: Mapping[str, Any], where: str) -> None:
        i = self.open_phase(op.get("phaseKey"), f"{where}.phaseKey")
        issues = IssueCollector()
        card = parse_rate_card(op.get("rateCard"), f"{where}.rateCard", issues, self.exists)
        if issues.issues or card is None:
            raise ValidationError(issues.issues)
        self._put(i, card)

    def _put(self, i: int, card: RateCard | None, key: str | None = None) -> None:
        phase, span = self.phases[i], self.span(i)
        key = card.key if card is not None else key
        assert key is not None
        if span.start >= self.at:
            items = tuple(x for x in phase.items if x.key != key)
            start = None
        else:
            items = _cut_items(phase, span, key, self.at)
            start = self.at
        if card is not None:
            items += (
                Item(
                    id=new_ulid(),
                    key=card.key,
                    rate_card=card,
                    active_from=start,
                    created_at=self.now,
                    updated_at=self.now,
                ),
            )
        self.phases[i] = replace(phase, items=items, updated_at=self.now)

    def remove_item(self, op: Mapping[str, Any], where: str) -> None:
        i = self.open_phase(op.get("phaseKey"), f"{where}.phaseKey")
        key = op.get("itemKey")
        span = self.span(i)
        running = [
            x
            for x in self.phases[i].items
            if x.key == key and ((s := item_span(x, span)).end is None or s.end > self.at)
        ]
        if not running:
            raise _Bad(f"{where}.itemKey", "unknown_item", f"phase has no running item {key}")
        self._put(i, None, str(key))

    def add_phase(self, op: Mapping[str, Any], where: str) -> None:
        raw = op.get("phase")
        if not isinstance(raw, Mapping):
            raise _Bad(f"{where}.phase", "required", "phase is an object")
        w = f"{where}.phase"
        issues = IssueCollector()
        key = key_of(raw.get("key"), f"{w}.key", issues)
        name = text(raw.get("name"), f"{w}.name", issues)
        description = text(raw.get("description"), f"{w}.description", issues, required=False)
        discounts = None
        if raw.get("discounts") is not None:
            discounts = parse_discounts(raw.get("discounts"), f"{w}.discounts", issues)
        if issues.issues or key is None or name is None:
            raise ValidationError(issues.issues)
        if any(p.key == key for p in self.phases):
            raise _Bad(f"{w}.key", "duplicate_key", f"phase {key} exists")
        start = self.sub.active_from
        if raw.get("startAfter") is not None:
            step, sign = _signed(raw.get("startAfter"), f"{w}.startAfter")
            start = step.add(start, sign)
        if start < self.at or (start == self.at and start < self.now):
            raise _Bad(
                f"{w}.startAfter", "in_past", "a new phase starts after the edit takes effect"
            )
        if any(p.active_from == start for p in self.phases):
            raise _Bad(f"{w}.startAfter", "phase_exists", "another phase starts then")
        later = next(
            (j for j, p in enumerate(self.phases) if p.active_from > start), len(self.phases)
        )
        if raw.get("duration") is not None:
            # Room for the new phase: what follows moves back by its length.
            step, sign = _signed(raw.get("duration"), f"{w}.duration")
            _shift(self.phases, later, step, sign)
        self.phases.insert(
            later,
            Phase(
                id=new_ulid(),
                key=key,
                name=name,
                description=description,
                discounts=discounts,
                active_from=start,
                created_at=self.now,
                updated_at=self.now,
            ),
        )

    def remove_phase(self, op: Mapping[str, Any], where: str) -> None:
        i = _index(self.phases, op.get("phaseKey"), f"{where}.phaseKey")
        shift = op.get("shift")
        if shift not in ("next", "prev"):
            raise _Bad(f"{where}.shift", "invalid_enum", "shift is next or prev")
        if self.phases[i].active_from <= self.at:
            raise _Bad(f"{where}.phaseKey", "phase_started", "only a phase yet to start is removed")
        if len(self.phases) == 1:
            raise _Bad(f"{where}.phaseKey", "last_phase", "a subscription keeps one phase")
        removed = self.phases.pop(i)
        if shift == "next" and i < len(self.phases):
            delta = removed.active_from - self.phases[i].active_from
            for j in range(i, len(self.phases)):
                self.phases[j] = replace(
                    self.phases[j], active_from=self.phases[j].active_from + delta
                )
        elif shift == "prev" and i == 0:
            self.phases[0] = replace(self.phases[0], active_from=removed.active_from)

    def stretch_phase(self, op: Mapping[str, Any], where: str) -> None:
        i = self.open_phase(op.get("phaseKey"), f"{where}.phaseKey")
        if i + 1 >= len(self.phases):
            raise _Bad(f"{where}.phaseKey", "last_phase", "the last phase has no end to move")
        step, sign = _signed(op.get("extendBy"), f"{where}.extendBy")
        moved = step.add(self.phases[i + 1].active_from, sign)
        if moved <= max(self.phases[i].active_from, self.at):
            raise _Bad(f"{where}.extendBy", "too_short", "the phase would end before it runs")
        delta = moved - self.phases[i + 1].active_from
        for j in range(i + 1, len(self.phases)):
            self.phases[j] = replace(self.phases[j], active_from=self.phases[j].active_from + delta)

    def unschedule_edit(self, op: Mapping[str, Any], where: str) -> None:
        pending = self.sub.pending_edit
        if pending is None or pending.at <= self.now:
            raise _Bad(f"{where}.op", "no_scheduled_edit", "the subscription has no scheduled edit")
        self.phases = list(pending.phases_before)
        self.unscheduled = True


def apply_edits(
    sub: Subscription,
    ops: Sequence[Any],
    at: datetime,
    now: datetime,
    exists: FeatureExists,
) -> tuple[tuple[Phase, ...], bool]:
    """The phases after every operation, in order; and whether a scheduled edit was undone."""
    editor = _Editor(sub, at, now, exists)
    for n, op in enumerate(ops):
        where = f"customizations[{n}]"
        if not isinstance(op, Mapping) or op.get("op") not in OPS:
            raise ValidationError.single(
                f"{where}.op", "invalid_enum", "op is one of " + ", ".join(OPS)
            )
        try:
            getattr(editor, str(op["op"]))(op, where)
        except _Bad as bad:
            raise ValidationError.single(bad.field, bad.code, bad.message) from None
    return tuple(editor.phases), editor.unscheduled
