"""NUL characters are refused before any backend sees them, naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.storage import events_conftest
from tests.storage.events_conftest import T0, ConformantStore, Ev, make_batch, new_namespace

from meterd.core.clock import FrozenClock
from meterd.core.errors import ValidationError
from meterd.domain.events import EventService

clock = events_conftest.clock
stores = events_conftest.stores
store = events_conftest.store


def fields_of(exc: ValidationError) -> list[str]:
    return [issue.field for issue in exc.issues]


def test_nul_anywhere_is_refused_and_nothing_is_stored(
    store: ConformantStore, clock: FrozenClock
) -> None:
    ns = new_namespace()
    service = EventService(store, clock)
    bad = make_batch(
        ns,
        [
            Ev("ok-1", T0, data={"value": 1}),
            Ev("bad\x00id", T0, data={"value": 2}),
            Ev("ok-2", T0, subject="a\x00b"),
            Ev("ok-3", T0, data={"nested": ["x\x00y"]}),
            Ev("ok-4", T0, data={"k\x00": 1}),
        ],
    )
    with pytest.raises(ValidationError) as caught:
        service.ingest(bad)
    assert fields_of(caught.value) == [
        "events[1].id",
        "events[2].subject",
        "events[3].data",
        "events[4].data",
    ]
    assert store.count(ns) == 0


def test_escaped_backslash_text_is_not_nul(store: ConformantStore, clock: FrozenClock) -> None:
    ns = new_namespace()
    service = EventService(store, clock)
    # The text \u0000 spelled out (a backslash, then "u0000") is ordinary data.
    batch = make_batch(ns, [Ev("lit", T0 + timedelta(seconds=1), data={"note": "\\u0000"})])
    assert service.ingest(batch).accepted == 1
    (stored,) = store.export(ns)
    assert stored[0].id == "lit"
