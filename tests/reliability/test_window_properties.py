"""Properties of meter windowing over ranges (``iter_windows``), in DST zones too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterd.core.periods import WindowSize, iter_windows, window_start

ZONES = [
    ZoneInfo(z)
    for z in (
        "UTC",
        "Europe/Budapest",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Chatham",
    )
]
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)
# Ranges long enough to cross DST changes, short enough to stay cheap per size.
SPAN = {
    WindowSize.MINUTE: timedelta(hours=3),
    WindowSize.HOUR: timedelta(days=4),
    WindowSize.DAY: timedelta(days=200),
    WindowSize.MONTH: timedelta(days=800),
}


@settings(max_examples=200, deadline=None)
@given(
    start=instants,
    frac=st.floats(0.0, 1.0),
    size=st.sampled_from(list(WindowSize)),
    zone=st.sampled_from(ZONES),
)
def test_windows_tile_the_range_exactly(
    start: datetime, frac: float, size: WindowSize, zone: ZoneInfo
) -> None:
    end = start + SPAN[size] * frac + timedelta(microseconds=1)
    windows = iter_windows(start, end, size, zone)
    assert windows, (start, end)
    # The first window holds the start, the last one reaches the end.
    assert windows[0].start <= start < windows[0].end
    assert windows[-1].start < end <= windows[-1].end
    for a, b in pairwise(windows):
        assert a.end == b.start  # no gap, no overlap
    for w in windows:
        assert w.start < w.end
        assert window_start(w.start, size, zone) == w.start


@settings(max_examples=200, deadline=None)
@given(
    at=st.lists(instants, min_size=1, max_size=30),
    size=st.sampled_from(list(WindowSize)),
    zone=st.sampled_from(ZONES),
)
def test_every_instant_falls_in_exactly_one_window(
    at: list[datetime], size: WindowSize, zone: ZoneInfo
) -> None:
    lo, hi = min(at), max(at)
    if hi - lo > SPAN[size]:
        at = [t for t in at if t - lo <= SPAN[size]]
        hi = max(at)
    windows = iter_windows(lo, hi + timedelta(microseconds=1), size, zone)
    for t in at:
        holding = [w for w in windows if w.start <= t < w.end]
        assert len(holding) == 1
        assert holding[0].start == window_start(t, size, zone)
