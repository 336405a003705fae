"""Redefining a meter: what may change, and what each bad change is refused for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterd.core.errors import ValidationError
from meterd.domain.meters import Aggregation, Meter, RedefineMeterInput
from meterd.domain.meters.redefinition import redefined, same_definition

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 2, 1, tzinfo=UTC)


def meter(**kw: object) -> Meter:
    base: dict[str, object] = {
        "id": "m1",
        "namespace": "ns",
        "slug": "tokens",
        "name": "Tokens",
        "description": None,
        "metadata": {},
        "aggregation": Aggregation.SUM,
        "event_type": "prompt",
        "event_from": None,
        "value_property": "$.tokens",
        "group_by": {"model": "$.model"},
        "filter": None,
        "created_at": T0,
        "updated_at": T0,
    }
    return Meter(**(base | kw))  # type: ignore[arg-type]


def issues(m: Meter, inp: RedefineMeterInput) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as err:
        redefined(m, inp, T1)
    return [(i.field, i.code) for i in err.value.issues]


def test_changes_apply_and_the_rest_is_kept() -> None:
    m = meter()
    got = redefined(m, RedefineMeterInput(aggregation="MAX"), T1)
    assert (got.aggregation, got.value_property, got.event_type) == (
        Aggregation.MAX,
        "$.tokens",
        "prompt",
    )
    assert (got.slug, got.group_by, got.created_at, got.updated_at) == (
        "tokens",
        {"model": "$.model"},
        T0,
        T1,
    )
    assert not same_definition(m, got)
    count = redefined(m, RedefineMeterInput(aggregation="COUNT", value_property=None), T1)
    assert count.value_property is None
    filtered = redefined(m, RedefineMeterInput(filter=[{"$.region": {"$eq": "US"}}]), T1)
    assert filtered.filter is not None and not same_definition(m, filtered)
    assert redefined(filtered, RedefineMeterInput(filter=None), T1).filter is None
    renamed = redefined(m, RedefineMeterInput(name="Spend", event_type="charge"), T1)
    assert (renamed.name, renamed.event_type) == ("Spend", "charge")
    assert same_definition(m, redefined(m, RedefineMeterInput(name="Other"), T1))


def test_bad_changes_name_their_field() -> None:
    m = meter()
    assert issues(m, RedefineMeterInput(aggregation="MEDIAN")) == [("aggregation", "invalid_enum")]
    assert issues(m, RedefineMeterInput(aggregation="COUNT")) == [("valueProperty", "not_allowed")]
    assert issues(m, RedefineMeterInput(value_property=None)) == [("valueProperty", "required")]
    assert issues(m, RedefineMeterInput(value_property="$.[")) == [
        ("valueProperty", "invalid_jsonpath")
    ]
    assert issues(m, RedefineMeterInput(value_property="$.model")) == [
        ("valueProperty", "invalid_group_by")
    ]
    assert issues(m, RedefineMeterInput(event_type="")) == [("eventType", "required")]
    assert issues(m, RedefineMeterInput(name=7)) == [("name", "invalid_type")]
    assert issues(m, RedefineMeterInput(filter=[])) == [("filter", "invalid_filter")]
