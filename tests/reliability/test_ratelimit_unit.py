"""The token buckets behind per-key rate limits, on a hand-driven clock."""

from __future__ import annotations

import pytest

from meterd.api.ratelimit import RateLimiter, from_settings
from meterd.settings import Settings

KEY = b"Bearer mtd_abcdefabcdef_" + b"s" * 43
OTHER = b"Bearer mtd_012345678901_" + b"t" * 43


class Tick:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_steady_rate() -> None:
    clock = Tick()
    limiter = RateLimiter(2, burst=3, clock=clock)
    assert [limiter.wait(KEY) for _ in range(3)] == [0, 0, 0]
    assert limiter.wait(KEY) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.wait(KEY) == 0
    assert limiter.wait(KEY) == pytest.approx(0.5)
    # Idle time refills up to the burst, never beyond.
    clock.now += 60
    assert [limiter.wait(KEY) for _ in range(3)] == [0, 0, 0]
    assert limiter.wait(KEY) > 0


def test_each_credential_has_its_own_bucket() -> None:
    limiter = RateLimiter(1, clock=Tick())
    assert limiter.wait(KEY) == 0
    assert limiter.wait(KEY) > 0
    assert limiter.wait(OTHER) == 0


def test_overrides_by_public_prefix() -> None:
    limiter = RateLimiter(1, overrides={"abcdefabcdef": 0, "012345678901": 5}, clock=Tick())
    assert all(limiter.wait(KEY) == 0 for _ in range(100))  # exempt
    assert [limiter.wait(OTHER) for _ in range(5)] == [0] * 5
    assert limiter.wait(OTHER) == pytest.approx(0.2)


def test_only_overridden_keys_are_limited_without_a_default() -> None:
    limiter = from_settings(Settings(rate_limit_overrides={"012345678901": 1}))
    assert limiter is not None
    assert all(limiter.wait(KEY) == 0 for _ in range(50))
    assert limiter.wait(OTHER) == 0
    assert limiter.wait(OTHER) > 0
    assert from_settings(Settings()) is None


def test_the_table_of_buckets_is_bounded() -> None:
    limiter = RateLimiter(1, clock=Tick(), max_buckets=10)
    for i in range(100):
        limiter.wait(b"k%d" % i)
    assert len(limiter._buckets) <= 10
