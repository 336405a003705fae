"""Calendar windows in IANA zones, and RFC 3339 parsing/formatting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.core.periods import (
    Period,
    WindowSize,
    format_rfc3339,
    iter_windows,
    load_zone,
    parse_rfc3339,
    window_end,
    window_start,
)

BUDAPEST = ZoneInfo("Europe/Budapest")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = [BUDAPEST, NEW_YORK, KOLKATA, ZoneInfo("UTC")]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(at: str, size: WindowSize, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = window_start(utc(at), size, zone)
    return start, window_end(start, size, zone)


# -- DAY -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "start", "end", "hours"),
    [
        # Spring forward: the local day loses an hour.
        (BUDAPEST, "2024-03-31T12:00", "2024-03-30T23:00", "2024-03-31T22:00", 23),
        (NEW_YORK, "2024-03-10T12:00", "2024-03-10T05:00", "2024-03-11T04:00", 23),
        # Fall back: the local day gains one.
        (BUDAPEST, "2024-10-27T12:00", "2024-10-26T22:00", "2024-10-27T23:00", 25),
        (NEW_YORK, "2024-11-03T12:00", "2024-11-03T04:00", "2024-11-04T05:00", 25),
        # An ordinary day in a half-hour zone starts at 18:30 UTC the day before.
        (KOLKATA, "2024-03-10T20:00", "2024-03-10T18:30", "2024-03-11T18:30", 24),
        (KOLKATA, "2024-03-10T18:29:59", "2024-03-09T18:30", "2024-03-10T18:30", 24),
    ],
)
def test_day_windows_follow_local_midnight(
    zone: ZoneInfo, at: str, start: str, end: str, hours: int
) -> None:
    s, e = window(at, WindowSize.DAY, zone)
    assert (s, e) == (utc(start), utc(end))
    assert e - s == timedelta(hours=hours)
    assert s.astimezone(zone).time() == e.astimezone(zone).time() == datetime.min.time()


# -- MONTH -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "start", "end"),
    [
        # March holds the spring change: starts at +01:00, ends at +02:00.
        (BUDAPEST, "2024-03-15T00:00", "2024-02-29T23:00", "2024-03-31T22:00"),
        (NEW_YORK, "2024-11-15T00:00", "2024-11-01T04:00", "2024-12-01T05:00"),
        (KOLKATA, "2024-01-31T18:29", "2023-12-31T18:30", "2024-01-31T18:30"),
        # 18:30 UTC on 31 January is already February in India.
        (KOLKATA, "2024-01-31T18:30", "2024-01-31T18:30", "2024-02-29T18:30"),
        # December rolls the year over.
        (NEW_YORK, "2024-12-31T12:00", "2024-12-01T05:00", "2025-01-01T05:00"),
    ],
)
def test_month_windows(zone: ZoneInfo, at: str, start: str, end: str) -> None:
    assert window(at, WindowSize.MONTH, zone) == (utc(start), utc(end))


# -- HOUR ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "start"),
    [
        # Budapest falls back at 03:00 CEST: local 02:xx happens twice and the
        # two hours must stay separate windows.
        (BUDAPEST, "2024-10-27T00:30", "2024-10-27T00:00"),
        (BUDAPEST, "2024-10-27T01:30", "2024-10-27T01:00"),
        # New York springs forward at 02:00 EST: 01:59 EST and 03:00 EDT are
        # adjacent hours with nothing in between.
        (NEW_YORK, "2024-03-10T06:59", "2024-03-10T06:00"),
        (NEW_YORK, "2024-03-10T07:00", "2024-03-10T07:00"),
        # New York falls back: 01:xx EDT and 01:xx EST.
        (NEW_YORK, "2024-11-03T05:30", "2024-11-03T05:00"),
        (NEW_YORK, "2024-11-03T06:30", "2024-11-03T06:00"),
        # Kolkata hours start at :30 UTC.
        (KOLKATA, "2024-01-01T00:10", "2023-12-31T23:30"),
        (KOLKATA, "2024-01-01T00:30", "2024-01-01T00:30"),
    ],
)
def test_hour_windows(zone: ZoneInfo, at: str, start: str) -> None:
    s, e = window(at, WindowSize.HOUR, zone)
    assert s == utc(start)
    assert e - s == timedelta(hours=1)
    assert s.astimezone(zone).minute == 0


def test_windows_are_half_open() -> None:
    # The end instant of a window belongs to the next window, never to both.
    for zone in ZONES:
        for size in WindowSize:
            s, e = window("2024-03-31T01:15", size, zone)
            assert Period(s, e).contains(s)
            assert not Period(s, e).contains(e)
            assert window_start(e, size, zone) == e
            assert window_start(e - timedelta(microseconds=1), size, zone) == s


def test_iter_windows_across_a_dst_month() -> None:
    days = iter_windows(utc("2024-03-01T05:00"), utc("2024-04-01T04:00"), WindowSize.DAY, NEW_YORK)
    assert len(days) == 31
    lengths = [d.end - d.start for d in days]
    assert lengths.count(timedelta(hours=23)) == 1
    assert lengths.count(timedelta(hours=24)) == 30
    assert all(a.end == b.start for a, b in itertools.pairwise(days))


def test_iter_windows_overlapping_partial_edges() -> None:
    # Windows that only partly overlap [start, end) are still included.
    hours = iter_windows(utc("2024-01-01T00:10"), utc("2024-01-01T02:00"), WindowSize.HOUR, KOLKATA)
    assert [h.start for h in hours] == [
        utc("2023-12-31T23:30"),
        utc("2024-01-01T00:30"),
        utc("2024-01-01T01:30"),
    ]


def test_load_zone_rejects_unknown_names() -> None:
    assert load_zone("Asia/Kolkata") == KOLKATA
    for bad in ("Mars/Olympus", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            load_zone(bad)


def test_period_rejects_naive_and_empty() -> None:
    with pytest.raises(ValueError):
        Period(datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(ValueError):
        Period(utc("2024-01-01T00:00"), utc("2024-01-01T00:00"))


# -- properties ------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(at=instants, size=st.sampled_from(list(WindowSize)), zone=st.sampled_from(ZONES))
def test_window_contains_the_instant_and_windows_tile(
    at: datetime, size: WindowSize, zone: ZoneInfo
) -> None:
    start = window_start(at, size, zone)
    end = window_end(start, size, zone)
    assert start <= at < end
    # The next window begins exactly where this one ends (no gap, no overlap)
    # and the previous one ends exactly where this one begins.
    assert window_start(end, size, zone) == end
    before = window_start(start - timedelta(microseconds=1), size, zone)
    assert window_end(before, size, zone) == start
    # Starting a window is idempotent.
    assert window_start(start, size, zone) == start


# -- RFC 3339 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("2024-05-06T07:08:09.123456Z", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
        ("2024-05-06T07:08:09.5Z", datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)),
        ("2024-05-06T09:08:09.000001+02:00", datetime(2024, 5, 6, 7, 8, 9, 1, tzinfo=UTC)),
        ("2024-05-06T01:38:09-05:30", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("2024-05-06t07:08:09z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)),
        # Nanoseconds (Go clients send them) are cut, not rounded: rounding
        # could move an event into the next second, day or billing month.
        ("2024-01-31T23:59:59.999999999Z", datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2024-05-06T07:08:09.123456789Z", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    value = parse_rfc3339(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)
    assert value.microsecond == expected.microsecond


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-06T07:08:09",  # naive: no offset
        "2024-05-06",
        "yesterday",
        "",
        "2024-13-01T00:00:00Z",
        "2024-05-06T25:00:00Z",
        "2024-05-06T07:08:09.Z",
        # ISO 8601 forms that are not RFC 3339 must not slip through either:
        # ingest rejects them, and queries must agree with ingest.
        "20240506T070809Z",
        "2024-W19-1T07:08:09Z",
        "2024-05-06T07:08Z",
        "2024-05-06T07Z",
        "2024-05-06T07:08:09,5Z",
    ],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_format_rfc3339() -> None:
    assert format_rfc3339(datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)) == "2024-05-06T07:08:09Z"
    assert (
        format_rfc3339(datetime(2024, 5, 6, 7, 8, 9, 120000, tzinfo=UTC))
        == "2024-05-06T07:08:09.120000Z"
    )
    plus2 = timezone(timedelta(hours=2))
    assert format_rfc3339(datetime(2024, 5, 6, 9, 0, tzinfo=plus2)) == "2024-05-06T07:00:00Z"


@settings(max_examples=200, deadline=None)
@given(at=instants)
def test_format_then_parse_is_identity(at: datetime) -> None:
    assert parse_rfc3339(format_rfc3339(at)) == at
