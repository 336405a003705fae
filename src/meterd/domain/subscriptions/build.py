"""Laying a plan's phases out in time as a subscription's phases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from meterd.core.errors import ValidationError
from meterd.core.ids import new_ulid
from meterd.domain.catalog import plans
from meterd.domain.subscriptions.models import Item, Phase
from meterd.domain.subscriptions.periods import phase_starts


def items_of(cards: Sequence[plans.RateCard], now: datetime) -> tuple[Item, ...]:
    return tuple(
        Item(id=new_ulid(), key=c.key, rate_card=c, created_at=now, updated_at=now) for c in cards
    )


def lay_out(
    source: Sequence[plans.Phase], start: datetime, starting_phase: str | None, now: datetime
) -> tuple[Phase, ...]:
    """The plan's phases from ``starting_phase`` (default: the first) on, back to back from
    ``start``, each as long as its plan duration."""
    chosen = list(source)
    if starting_phase is not None:
        keys = [p.key for p in chosen]
        if starting_phase not in keys:
            raise ValidationError.single(
                "startingPhase", "unknown_phase", f"the plan has no phase {starting_phase}"
            )
        chosen = chosen[keys.index(starting_phase) :]
    starts = phase_starts(start, [p.duration for p in chosen])
    return tuple(
        Phase(
            id=new_ulid(),
            key=p.key,
            name=p.name,
            description=p.description,
            metadata=dict(p.metadata),
            active_from=at,
            items=items_of(p.rate_cards, now),
            created_at=now,
            updated_at=now,
        )
        for p, at in zip(chosen, starts, strict=False)
    )
