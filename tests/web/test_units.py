"""Session signing, chart scales and price descriptions, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from meterd.domain.catalog import PriceTier, TieredPrice, TierMode
from meterd.web.charts import Point, bar_chart, line_chart, nice_ceiling, short_number
from meterd.web.prices import describe
from meterd.web.render import money, num
from meterd.web.session import LIFETIME, Signer

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


def test_sessions_are_signed_expire_and_need_the_same_secret() -> None:
    signer = Signer(b"k" * 32)
    cookie, session = signer.issue("ns", "key1", "read", NOW)
    assert signer.read(cookie, NOW) == session
    assert signer.read(cookie, NOW + LIFETIME) is None
    assert Signer(b"x" * 32).read(cookie, NOW) is None
    payload, mac = cookie.split(".")
    assert signer.read(payload[:-1] + "A." + mac, NOW) is None
    assert signer.read("garbage", NOW) is None
    token = signer.csrf(session.nonce)
    assert signer.csrf_ok(session.nonce, token)
    assert not signer.csrf_ok(session.nonce, None)
    _, other = signer.issue("ns", "key1", "read", NOW)
    assert not signer.csrf_ok(other.nonce, token)


def test_axis_tops_are_round_numbers() -> None:
    cases = {"0": "1", "7": "10", "180": "200", "240": "250", "401": "500", "0.3": "0.5"}
    assert {k: str(nice_ceiling(Decimal(k)).normalize()) for k in cases} == {
        k: str(Decimal(v).normalize()) for k, v in cases.items()
    }
    assert [short_number(Decimal(v)) for v in ("1500", "2000000", "0.126", "-3000")] == [
        "1.5k",
        "2M",
        "0.13",
        "-3k",
    ]


def test_charts_are_accessible_svg_with_exact_tooltips() -> None:
    points = [Point("06-09", "9 June", Decimal("12.5")), Point("06-10", "10 June", Decimal(0))]
    svg = str(bar_chart(points, "Tokens <per day>"))
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert 'aria-label="Tokens &lt;per day&gt;"' in svg
    assert svg.count('class="bar"') == 2 and "<title>9 June: 12.5</title>" in svg
    assert "No usage" in str(bar_chart([], "x"))
    negative = str(line_chart([Point("a", "a", Decimal(-40)), Point("b", "b", Decimal(60))], "x"))
    assert 'class="line"' in negative and ">-" in negative


def test_numbers_and_tiers_read_as_people_write_them() -> None:
    assert [num(Decimal("1234567.500")), num(Decimal("1E+3")), num(None)] == [
        "1,234,567.5",
        "1,000",
        "—",
    ]
    assert [money(Decimal("169")), money(Decimal("0.005")), money(Decimal("-1234.5"))] == [
        "169.00",
        "0.005",
        "-1,234.50",
    ]
    price = TieredPrice(
        mode=TierMode.GRADUATED,
        tiers=(
            PriceTier(up_to=Decimal(1000), unit_amount=Decimal("0.01")),
            PriceTier(up_to=None, unit_amount=Decimal("0.005"), flat_amount=Decimal(5)),
        ),
    )
    view = describe(price, "USD")
    assert view.summary == "Graduated tiers USD"
    assert [(t.first, t.up_to, t.unit, t.flat) for t in view.tiers] == [
        ("0", "1,000", "0.01", "—"),
        ("1,000", "∞", "0.005", "5"),
    ]
    assert describe(None).summary == "No price"
