"""FilterString in SQL selects exactly what ``StringFilter.matches`` accepts.

The Python evaluator is the definition; every backend compiles filters to its
own SQL, so random filter trees over random event values are run through both
and the selected events compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.storage.events_conftest import (
    EVENT_BACKENDS,
    T0,
    ConformantStore,
    Ev,
    make_batch,
    make_meter,
    make_query,
    new_namespace,
    open_backend,
)

from meterd.core.clock import FrozenClock
from meterd.core.filters import StringFilter, scalar_text
from meterd.domain.events.models import EventQuery
from meterd.domain.meters.filters import Criterion, MeterFilter
from meterd.domain.meters.models import Aggregation

# Text that is numeric in some places and not in others, so $gt and friends
# must pick numeric or text comparison per value, as the evaluator does.
WORDS = ["a", "b", "ab", "abc", "B", "5", "10", "2.5", "05", "-1", "1e1", "", "a%b", "A_B"]
NUMBERS = [5, 10, 2.5, -1, 0, 0.5, 100]
SCALAR_OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$contains", "$ncontains"]
LIKE_OPS = ["$like", "$nlike", "$ilike", "$nilike"]
# Wildcards, escaped wildcards, and case differences for the folding ops.
PATTERNS = ["a%", "%b", "%B%", "_", "__", "A%", "%", "", "a\\%b", "%\\_%", "5%", "%.%", "a_b"]
MISSING: Any = object()


@pytest.fixture(scope="module", params=EVENT_BACKENDS)
def shared_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConformantStore]:
    # One store for all examples of a property; each example writes to a
    # namespace of its own, so examples cannot see each other's events.
    store = open_backend(request.param, Path(tmp_path_factory.mktemp("filters")), FrozenClock(T0))
    yield store
    store.close()


leaves = st.one_of(
    st.builds(
        lambda op, v: StringFilter(op=op, value=v),
        st.sampled_from(SCALAR_OPS),
        st.sampled_from(WORDS),
    ),
    st.builds(
        lambda op, vs: StringFilter(op=op, values=tuple(vs)),
        st.sampled_from(["$in", "$nin"]),
        st.lists(st.sampled_from(WORDS), max_size=3),
    ),
    st.builds(
        lambda op, v: StringFilter(op=op, value=v),
        st.sampled_from(LIKE_OPS),
        st.sampled_from(PATTERNS),
    ),
    st.builds(lambda e: StringFilter(op="$exists", exists=e), st.booleans()),
)
filters = st.recursive(
    leaves,
    lambda kids: st.builds(
        lambda op, cs: StringFilter(op=op, children=tuple(cs)),
        st.sampled_from(["$and", "$or"]),
        st.lists(kids, max_size=3),
    ),
    max_leaves=6,
)
data_values = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(NUMBERS),
    st.just(MISSING),
    st.sampled_from([None, True, False, {"x": "a"}, ["a"]]),
)


def load_values(store: ConformantStore, values: list[Any]) -> str:
    ns = new_namespace()
    events = [
        Ev(
            f"e{i}",
            T0 + timedelta(seconds=i),
            subject=f"s{i}",
            data={} if v is MISSING else {"k": v},
        )
        for i, v in enumerate(values)
    ]
    assert store.append([make_batch(ns, events)]) == [len(events)]
    return ns


def python_text(value: Any) -> str | None:
    """What the evaluator is handed for a data value read from JSON."""
    if value is MISSING:
        return None
    return scalar_text(json.loads(json.dumps(value)))


def selected_subjects(rows: list[Any]) -> set[str]:
    assert all(r.value == 1 for r in rows)
    return {r.subject for r in rows}


@settings(max_examples=60, deadline=None)
@given(flt=filters, values=st.lists(data_values, min_size=1, max_size=12))
def test_group_by_filter_selects_what_python_matches(
    shared_store: ConformantStore, flt: StringFilter, values: list[Any]
) -> None:
    ns = load_values(shared_store, values)
    meter = make_meter(ns, Aggregation.COUNT, group_by={"k": "$.k"})
    rows = shared_store.aggregate(make_query(meter, filters={"k": flt}, group_by_subject=True))
    expected = {f"s{i}" for i, v in enumerate(values) if flt.matches(python_text(v))}
    assert selected_subjects(rows) == expected


@settings(max_examples=60, deadline=None)
@given(flt=filters, values=st.lists(data_values, min_size=1, max_size=12))
def test_meter_filter_selects_what_python_matches(
    shared_store: ConformantStore, flt: StringFilter, values: list[Any]
) -> None:
    ns = load_values(shared_store, values)
    mfilter = MeterFilter(((Criterion("$.k", ("k",), flt),),))
    meter = replace(make_meter(ns, Aggregation.COUNT), filter=mfilter)
    rows = shared_store.aggregate(make_query(meter, group_by_subject=True))
    expected = {
        f"s{i}"
        for i, v in enumerate(values)
        if mfilter.matches({} if v is MISSING else json.loads(json.dumps({"k": v})))
    }
    assert selected_subjects(rows) == expected
    assert shared_store.distinct_subjects(ns, meter, None, None) == sorted(expected)


@settings(max_examples=60, deadline=None)
@given(flt=filters, subjects=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12))
def test_event_field_filter_selects_what_python_matches(
    shared_store: ConformantStore, flt: StringFilter, subjects: list[str]
) -> None:
    ns = new_namespace()
    events = [Ev(f"e{i}", T0 + timedelta(seconds=i), subject=s) for i, s in enumerate(subjects)]
    shared_store.append([make_batch(ns, events)])
    listed = shared_store.list_events(EventQuery(namespace=ns, filters={"subject": flt}, limit=100))
    assert {e.id for e in listed} == {e.id for e in events if flt.matches(e.subject)}
