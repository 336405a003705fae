"""What ``/readyz`` checks: named probes that raise when a store cannot answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Probes only read, so whether a tenant happens to use this namespace does
# not matter; an unlikely name keeps the reads empty and cheap.
PROBE_NAMESPACE = "meterd-readyz-probe"


@dataclass
class Readiness:
    checks: dict[str, Callable[[], None]] = field(default_factory=dict)


def state_probe(state: Any) -> Callable[[], None]:
    """One indexed read of the state store."""
    return lambda: state.get_meter(PROBE_NAMESPACE, "readyz") and None


def event_probe(events: Any) -> Callable[[], None]:
    """The store's own ping when it has one (it also checks the schema), else a count."""
    ping: Callable[[], None] | None = getattr(events, "ping", None)
    return ping if ping is not None else (lambda: events.count(PROBE_NAMESPACE) and None)
