"""Decoding CloudEvents request bodies (``meterd.api.v1.ingest``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from meterd.api.v1.ingest import BATCH, PLAIN, SINGLE, decode, media_type
from meterd.core.errors import PayloadTooLarge, UnsupportedMedia, ValidationError
from meterd.domain.events import EventBatch

NOW = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def event(i: int = 0, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"evt-{i}",
        "source": "unit",
        "specversion": "1.0",
        "type": "tokens",
        "subject": "cust-1",
        "time": "2024-05-31T10:00:00Z",
        "data": {"tokens": i},
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def run(payload: Any, kind: str = PLAIN, max_events: int = 1000) -> EventBatch:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode(body, kind, "ns", NOW, max_events)


def issues_of(payload: Any, kind: str = PLAIN) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        run(payload, kind)
    return [(i.field, i.code) for i in info.value.issues]


# -- content types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("application/json", PLAIN),
        ("application/json; charset=utf-8", PLAIN),
        ("Application/CloudEvents+JSON", SINGLE),
        ("application/cloudevents-batch+json", BATCH),
    ],
)
def test_media_types(header: str, kind: str) -> None:
    assert media_type(header) == kind


@pytest.mark.parametrize("header", [None, "", "text/plain", "application/xml", "json"])
def test_unsupported_media_types(header: str | None) -> None:
    with pytest.raises(UnsupportedMedia):
        media_type(header)


def test_single_cloudevent() -> None:
    batch = run(event(), SINGLE)
    assert batch.ids == ["evt-0"]
    assert batch.namespace == "ns"
    assert batch.ingested_at == NOW


def test_batch_cloudevents() -> None:
    batch = run([event(i) for i in range(3)], BATCH)
    assert batch.ids == ["evt-0", "evt-1", "evt-2"]
    assert batch.subjects == ["cust-1"] * 3
    assert batch.types == ["tokens"] * 3


def test_plain_json_takes_an_object_or_an_array() -> None:
    assert run(event(7), PLAIN).ids == ["evt-7"]
    assert run([event(1), event(2)], PLAIN).ids == ["evt-1", "evt-2"]


def test_single_content_type_refuses_an_array() -> None:
    assert issues_of([event()], SINGLE) == [("body", "invalid_type")]


def test_batch_content_type_refuses_an_object() -> None:
    assert issues_of(event(), BATCH) == [("body", "invalid_type")]


def test_repeated_ids_inside_a_batch_are_kept_for_the_store_to_dedupe() -> None:
    assert run([event(1), event(1)]).ids == ["evt-1", "evt-1"]


# -- time ------------------------------------------------------------------


def test_time_defaults_to_now() -> None:
    batch = run([event(1, time=_DROP), event(2, time=None)])
    assert batch.times == [NOW, NOW]


def test_time_offsets_become_utc() -> None:
    batch = run(event(time="2024-05-31T12:30:00+02:30"))
    assert batch.times == [datetime(2024, 5, 31, 10, 0, tzinfo=UTC)]
    assert batch.times[0].utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_microseconds_are_kept() -> None:
    batch = run(event(time="2024-05-31T10:00:00.654321Z"))
    assert batch.times[0].microsecond == 654321


@pytest.mark.parametrize("kind", [SINGLE, PLAIN])
def test_nanosecond_timestamps_are_cut_not_rounded(kind: str) -> None:
    # Go clients send RFC3339Nano. Rounding 23:59:59.9999996 up would move
    # January usage into February.
    batch = run(event(time="2024-01-31T23:59:59.9999996Z"), kind)
    assert batch.times == [datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)]


def test_nanosecond_timestamps_in_a_batch() -> None:
    batch = run(
        [
            event(0, time="2024-05-31T10:00:00.123456789Z"),
            event(1, time="2024-05-31T10:00:00.5Z"),
            event(2, time=_DROP),
            event(3, time="2024-05-31T12:00:00.000000999+02:00"),
        ],
        BATCH,
    )
    assert batch.times == [
        datetime(2024, 5, 31, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 5, 31, 10, 0, 0, 500000, tzinfo=UTC),
        NOW,
        datetime(2024, 5, 31, 10, 0, 0, 0, tzinfo=UTC),
    ]


def test_long_fractions_inside_data_do_not_change_anything() -> None:
    # A long decimal in data takes the slower path; the result is the same.
    batch = run(event(time="2024-05-31T10:00:00.25Z", data={"at": "10:00:00.12345678"}))
    assert batch.times == [datetime(2024, 5, 31, 10, 0, 0, 250000, tzinfo=UTC)]
    assert json.loads(batch.data[0] or "") == {"at": "10:00:00.12345678"}


@pytest.mark.parametrize(
    "bad",
    [
        "yesterday",
        "2024-05-31T10:00:00",  # no offset
        "2024-05-31",
        "20240531T100000Z",
        "2024-W22-5T10:00:00Z",
        "2024-05-31T10:00Z",
        "2024-05-31T10:00:00.1234567",  # nanoseconds but no offset
        "2024-05-31T10:00:00.1234567Q",
        1717149600,
    ],
)
def test_time_must_be_rfc3339(bad: Any) -> None:
    assert issues_of([event(0), event(1, time=bad)]) == [("events[1].time", "invalid_time")]


# -- data ------------------------------------------------------------------


def test_data_object_is_kept_as_exact_json_text() -> None:
    raw = (
        b'{"id":"a","source":"s","specversion":"1.0","type":"t","subject":"u",'
        b'"data":{"v": 0.1000, "big": 123456789012345678901234567890}}'
    )
    (text,) = run(raw).data
    # The number text is not passed through a float.
    assert text == '{"v": 0.1000, "big": 123456789012345678901234567890}'


def test_data_null_or_absent_is_none() -> None:
    assert run([event(1, data=None), event(2, data=_DROP)]).data == [None, None]


@pytest.mark.parametrize("bad", [[1, 2], "text", 5, True])
def test_data_must_be_an_object(bad: Any) -> None:
    assert issues_of([event(0), event(1, data=bad)]) == [("events[1].data", "invalid_type")]


# -- required fields and types ----------------------------------------------


@pytest.mark.parametrize("name", ["id", "source", "specversion", "type", "subject"])
def test_each_required_field(name: str) -> None:
    assert issues_of([event(0), event(1, **{name: _DROP})]) == [(f"events[1].{name}", "required")]
    assert issues_of([event(0, **{name: ""})]) == [(f"events[0].{name}", "required")]
    assert issues_of([event(0, **{name: 12})]) == [(f"events[0].{name}", "invalid_type")]
    assert issues_of([event(0, **{name: "x" * 1025})]) == [(f"events[0].{name}", "too_long")]


def test_every_issue_is_reported_with_its_index_and_field() -> None:
    payload = [
        event(0, id=_DROP, subject=""),
        event(1),
        event(2, time="soon", data=[1], source=3),
        "not an event",
        event(4, datacontenttype="text/csv", dataschema=7),
    ]
    assert issues_of(payload) == [
        ("events[0].id", "required"),
        ("events[0].subject", "required"),
        ("events[2].source", "invalid_type"),
        ("events[2].time", "invalid_time"),
        ("events[2].data", "invalid_type"),
        ("events[3]", "invalid_type"),
        ("events[4].datacontenttype", "invalid_enum"),
        ("events[4].dataschema", "invalid_type"),
    ]


def test_issues_are_found_on_the_nanosecond_path_too() -> None:
    payload = [event(0, time="2024-05-31T10:00:00.1234567Z"), event(1, subject=_DROP)]
    assert issues_of(payload) == [("events[1].subject", "required")]


def test_application_json_datacontenttype_is_accepted() -> None:
    assert run(event(datacontenttype="application/json")).datacontenttypes == ["application/json"]


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        (b"", ("body", "required")),
        (b"   \n", ("body", "required")),
        (b"[]", ("body", "required")),
        (b"{not json", ("body", "malformed_json")),
        (b'[{"id": "a",]', ("body", "malformed_json")),
        (b"\xff\xfe", ("body", "malformed_json")),
        (b"5", ("events[0]", "invalid_type")),
        (b"[5]", ("events[0]", "invalid_type")),
    ],
)
def test_unreadable_bodies(body: bytes, issue: tuple[str, str]) -> None:
    assert issues_of(body) == [issue]


def test_too_many_events() -> None:
    with pytest.raises(PayloadTooLarge):
        run([event(i) for i in range(4)], BATCH, max_events=3)
    assert len(run([event(i) for i in range(3)], BATCH, max_events=3)) == 3
