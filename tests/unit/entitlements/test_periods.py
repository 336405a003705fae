"""Calendar intervals and usage periods with manual resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterd.domain.entitlements.durations import CalendarInterval, ceil_minute, floor_minute
from meterd.domain.entitlements.models import RecurringPeriod, Reset
from meterd.domain.entitlements.usage_periods import ResetPoint, UsageCalendar


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "months", "days", "seconds", "iso", "name"),
    [
        ("DAY", 0, 1, 0, "P1D", "DAY"),
        ("WEEK", 0, 7, 0, "P1W", "WEEK"),
        ("MONTH", 1, 0, 0, "P1M", "MONTH"),
        ("YEAR", 12, 0, 0, "P1Y", "YEAR"),
        ("P7D", 0, 7, 0, "P1W", "WEEK"),
        ("P2W", 0, 14, 0, "P2W", None),
        ("PT1H", 0, 0, 3600, "PT1H", None),
        ("PT01H00M00S", 0, 0, 3600, "PT1H", None),
        ("P1Y2M3DT4H5M6S", 14, 3, 14706, "P1Y2M3DT4H5M6S", None),
        ("p1m", 1, 0, 0, "P1M", "MONTH"),
    ],
)
def test_parse(text: str, months: int, days: int, seconds: int, iso: str, name: str) -> None:
    i = CalendarInterval.parse(text)
    assert (i.months, i.days, i.seconds) == (months, days, seconds)
    assert i.iso() == iso
    assert i.name() == name


@pytest.mark.parametrize("text", ["", "P", "PT", "P1.5D", "1D", "P0D", "FORTNIGHT", "P1DT"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        CalendarInterval.parse(text)


def test_months_keep_the_anchor_day_and_clamp_without_drifting() -> None:
    month = CalendarInterval.parse("P1M")
    anchor = utc("2024-01-31T10:00:00")
    assert [month.add(anchor, k) for k in range(4)] == [
        utc("2024-01-31T10:00:00"),
        utc("2024-02-29T10:00:00"),
        utc("2024-03-31T10:00:00"),
        utc("2024-04-30T10:00:00"),
    ]
    assert month.add(anchor, -2) == utc("2023-11-30T10:00:00")


def test_floor_next_and_steps() -> None:
    month = CalendarInterval.parse("MONTH")
    anchor = utc("2024-01-15T00:00:00")
    assert month.floor(anchor, utc("2024-03-15T00:00:00")) == utc("2024-03-15T00:00:00")
    assert month.floor(anchor, utc("2024-03-14T23:59:59")) == utc("2024-02-15T00:00:00")
    assert month.next_after(anchor, utc("2024-03-15T00:00:00")) == utc("2024-04-15T00:00:00")
    assert month.floor(anchor, utc("2023-12-01T00:00:00")) == utc("2023-11-15T00:00:00")
    steps = month.steps(anchor, utc("2024-01-15T00:00:00"), utc("2024-04-15T00:00:00"))
    assert steps == [utc("2024-02-15T00:00:00"), utc("2024-03-15T00:00:00")]


@given(
    st.sampled_from(["PT1H", "P1D", "P1W", "P1M", "P3M", "P1Y", "P1M15D", "PT90M"]),
    st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_index_brackets_the_instant(text: str, anchor: datetime, at: datetime) -> None:
    i = CalendarInterval.parse(text)
    k = i.index(anchor, at)
    assert i.add(anchor, k) <= at < i.add(anchor, k + 1)


def test_minutes() -> None:
    assert floor_minute(utc("2024-01-01T10:00:59.9")) == utc("2024-01-01T10:00:00")
    assert ceil_minute(utc("2024-01-01T10:00:00.1")) == utc("2024-01-01T10:01:00")
    assert ceil_minute(utc("2024-01-01T10:00:00")) == utc("2024-01-01T10:00:00")


def reset(at: str, anchor: str, preserve: bool = False) -> Reset:
    return Reset(
        id=at,
        entitlement_id="e",
        at=utc(at),
        anchor=utc(anchor),
        preserve_overage=preserve,
        created_at=utc(at),
    )


MONTHLY = RecurringPeriod(
    interval=CalendarInterval.parse("MONTH"), anchor=utc("2024-01-01T00:00:00")
)


def test_periods_follow_the_anchor_grid() -> None:
    cal = UsageCalendar(MONTHLY, utc("2024-01-10T00:00:00"), [], False)
    p = cal.period_at(utc("2024-02-10T00:00:00"))
    assert (p.start, p.end) == (utc("2024-02-01T00:00:00"), utc("2024-03-01T00:00:00"))
    points = cal.reset_points(utc("2024-01-01T00:00:00"), utc("2024-03-01T00:00:00"))
    assert points == [
        ResetPoint(utc("2024-02-01T00:00:00"), False, False),
        ResetPoint(utc("2024-03-01T00:00:00"), False, False),
    ]


def test_reset_keeping_the_anchor_starts_a_period_that_ends_on_the_grid() -> None:
    cal = UsageCalendar(
        MONTHLY,
        utc("2024-01-01T00:00:00"),
        [reset("2024-01-20T00:00:00", "2024-01-01T00:00:00", preserve=True)],
        False,
    )
    p = cal.period_at(utc("2024-01-25T00:00:00"))
    assert (p.start, p.end) == (utc("2024-01-20T00:00:00"), utc("2024-02-01T00:00:00"))
    assert cal.reset_points(utc("2024-01-01T00:00:00"), utc("2024-02-01T00:00:00")) == [
        ResetPoint(utc("2024-01-20T00:00:00"), True, True),
        ResetPoint(utc("2024-02-01T00:00:00"), False, False),
    ]


def test_reset_without_the_anchor_re_anchors_the_grid() -> None:
    cal = UsageCalendar(
        MONTHLY,
        utc("2024-01-01T00:00:00"),
        [reset("2024-01-20T00:00:00", "2024-01-20T00:00:00")],
        False,
    )
    p = cal.period_at(utc("2024-02-05T00:00:00"))
    assert (p.start, p.end) == (utc("2024-01-20T00:00:00"), utc("2024-02-20T00:00:00"))
    before = cal.period_at(utc("2024-01-05T00:00:00"))
    assert (before.start, before.end) == (utc("2024-01-01T00:00:00"), utc("2024-02-01T00:00:00"))
    assert [
        r.at for r in cal.reset_points(utc("2024-01-01T00:00:00"), utc("2024-03-20T00:00:00"))
    ] == [
        utc("2024-01-20T00:00:00"),
        utc("2024-02-20T00:00:00"),
        utc("2024-03-20T00:00:00"),
    ]


def test_no_automatic_reset_at_or_before_the_origin() -> None:
    origin = utc("2024-02-01T00:00:00")
    cal = UsageCalendar(MONTHLY, origin, [], False)
    assert cal.reset_points(utc("2024-01-01T00:00:00"), origin) == []
    assert cal.reset_points(origin, origin + timedelta(days=29)) == [
        ResetPoint(utc("2024-03-01T00:00:00"), False, False)
    ]
