"""A second, deliberately naive burn-down for the property tests to compare against.

It walks time one minute at a time and spends every usage event on its own,
in the order the grants burn at that minute. It shares the rules of the
engine (OpenMeter's) but none of its machinery: no phase planning, no
aggregation of usage, no grid arithmetic. Inputs are whole-minute offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class G:
    id: str
    amount: Decimal
    priority: int
    effective: int
    created: int
    expires: int | None = None
    voided: int | None = None
    every: int | None = None  # recurrence interval in minutes, anchored at ``effective``
    min_rollover: Decimal = ZERO
    max_rollover: Decimal | None = None

    def active(self, m: int) -> bool:
        return (
            self.effective <= m
            and (self.expires is None or m < self.expires)
            and (self.voided is None or m < self.voided)
        )

    def key(self) -> tuple[int, int, int, int, str]:
        # Grants that expire burn before those that do not.
        big = 10**9
        return (self.priority, self.expires is None, self.expires or big, self.created, self.id)


@dataclass
class Sim:
    balances: dict[str, Decimal] = field(default_factory=dict)
    overage: Decimal = ZERO
    usage: Decimal = ZERO
    grant_usage: Decimal = ZERO


def simulate(
    grants: list[G],
    events: list[tuple[int, Decimal]],
    resets: dict[int, bool],
    horizon: int,
) -> Sim:
    """State at minute ``horizon`` with everything happening at ``horizon`` applied."""
    by_id = {g.id: g for g in grants}
    s = Sim()

    def spend(amount: Decimal) -> Decimal:
        for gid in sorted(s.balances, key=lambda i: by_id[i].key()):
            if amount <= 0:
                break
            take = min(s.balances[gid], amount)
            s.balances[gid] -= take
            s.grant_usage += take
            amount -= take
        return amount

    for m in range(horizon + 1):
        for gid in list(s.balances):
            if not by_id[gid].active(m):
                del s.balances[gid]
        if m > 0 and m in resets:
            for gid, have in s.balances.items():
                g = by_id[gid]
                top = g.amount if g.max_rollover is None else g.max_rollover
                s.balances[gid] = min(top, max(have, g.min_rollover))
            if not resets[m]:
                s.overage = ZERO
            s.usage = ZERO
            s.grant_usage = ZERO
        joined = set()
        for g in sorted(grants, key=lambda g: g.id):
            if g.id not in s.balances and g.active(m):
                s.balances[g.id] = g.amount
                joined.add(g.id)
        for gid in list(s.balances):
            g = by_id[gid]
            if (
                gid not in joined
                and g.every
                and m > g.effective
                and (m - g.effective) % g.every == 0
            ):
                s.balances[gid] = g.amount
        s.overage = spend(s.overage)
        if m == horizon:
            break
        for at, amount in events:
            if at == m:
                s.usage += amount
                s.overage += spend(amount)
    return s
