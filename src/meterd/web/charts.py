"""Charts drawn on the server as inline SVG: no script and no network needed.

Geometry is computed with ``Decimal`` like every quantity here; only the
pixel coordinates are rounded, to a tenth of a pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from html import escape

from markupsafe import Markup

from meterd.core.money import format_decimal

WIDTH = Decimal(560)
HEIGHT = Decimal(220)
LEFT = Decimal(56)
RIGHT = Decimal(12)
TOP = Decimal(12)
BOTTOM = Decimal(36)
TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # short x label, e.g. "06-10" or "14:00"
    title: str  # full description for the tooltip
    value: Decimal


def _px(v: Decimal) -> str:
    return format_decimal(v.quantize(TENTH))


def nice_ceiling(top: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``top``."""
    if top <= 0:
        return Decimal(1)
    exponent = top.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = step.scaleb(exponent)
        if candidate >= top:
            return candidate
    return Decimal(10).scaleb(exponent)  # pragma: no cover - the loop always returns


def _axis(lo: Decimal, hi: Decimal) -> tuple[Decimal, Decimal, list[Decimal]]:
    """Axis bounds and four evenly spaced ticks covering ``[lo, hi]``."""
    lo = min(lo, Decimal(0))
    span = nice_ceiling(hi - lo) if hi > lo else Decimal(1)
    step = span / 4
    bottom = (lo / step).to_integral_value(ROUND_CEILING) * step if lo < 0 else Decimal(0)
    if lo < bottom:
        bottom -= step
    top = bottom + 4 * step
    while top < hi:
        top += step
    ticks = []
    tick = bottom
    while tick <= top:
        ticks.append(tick)
        tick += step
    return bottom, top, ticks


def _label_every(n: int) -> int:
    return max(1, -(-n // 8))


def _frame(label: str, body: list[str], ticks: list[Decimal], y: object) -> Markup:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]
    for t in ticks:
        ty = _px(y(t))  # type: ignore[operator]
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty}" y2="{ty}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{ty}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(short_number(t))}</text>'
        )
    parts.extend(body)
    parts.append("</svg>")
    return Markup("".join(parts))


def short_number(v: Decimal) -> str:
    """Axis labels: 1.5k, 2M; exact figures are in tooltips and tables."""
    sign = "-" if v < 0 else ""
    a = abs(v)
    for size, suffix in ((Decimal("1e9"), "G"), (Decimal("1e6"), "M"), (Decimal("1e3"), "k")):
        if a >= size:
            return sign + format_decimal((a / size).quantize(TENTH).normalize()) + suffix
    if a != a.to_integral_value():
        return sign + format_decimal(a.quantize(Decimal("0.01")).normalize())
    return sign + format_decimal(a)


def bar_chart(points: Sequence[Point], label: str) -> Markup:
    """Bars for usage per window."""
    if not points:
        return Markup('<p class="empty">No usage in this range.</p>')
    bottom, top, ticks = _axis(min(p.value for p in points), max(p.value for p in points))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y(v: Decimal) -> Decimal:
        return TOP + plot_h - (v - bottom) / (top - bottom) * plot_h

    slot = plot_w / len(points)
    bar = max(slot * Decimal("0.8"), Decimal(1))
    every = _label_every(len(points))
    body = []
    zero = y(Decimal(0))
    for i, p in enumerate(points):
        x = LEFT + slot * i + (slot - bar) / 2
        y0, y1 = sorted((y(p.value), zero))
        body.append(
            f'<rect class="bar" x="{_px(x)}" y="{_px(y0)}" width="{_px(bar)}" '
            f'height="{_px(max(y1 - y0, Decimal(0)))}"><title>{escape(p.title)}: '
            f"{escape(format_decimal(p.value))}</title></rect>"
        )
        if i % every == 0:
            body.append(
                f'<text class="xlabel" x="{_px(x + bar / 2)}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(p.label)}</text>'
            )
    return _frame(label, body, ticks, y)


def line_chart(points: Sequence[Point], label: str) -> Markup:
    """A stepped line, for balances that burn down window by window."""
    if not points:
        return Markup('<p class="empty">No history in this range.</p>')
    bottom, top, ticks = _axis(min(p.value for p in points), max(p.value for p in points))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def y(v: Decimal) -> Decimal:
        return TOP + plot_h - (v - bottom) / (top - bottom) * plot_h

    slot = plot_w / len(points)
    every = _label_every(len(points))
    path: list[str] = []
    body: list[str] = []
    for i, p in enumerate(points):
        x0, x1, py = LEFT + slot * i, LEFT + slot * (i + 1), _px(y(p.value))
        path.append(f"{'M' if i == 0 else 'L'}{_px(x0)} {py} L{_px(x1)} {py}")
        body.append(
            f'<circle class="dot" cx="{_px(x0)}" cy="{py}" r="2.5"><title>'
            f"{escape(p.title)}: {escape(format_decimal(p.value))}</title></circle>"
        )
        if i % every == 0:
            body.append(
                f'<text class="xlabel" x="{_px(x0)}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="start">{escape(p.label)}</text>'
            )
    body.insert(0, f'<path class="line" d="{" ".join(path)}"/>')
    return _frame(label, body, ticks, y)
