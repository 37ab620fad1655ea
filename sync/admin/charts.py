"""Server-rendered SVG line charts of balances over time (no JavaScript, no CDN).

The SVG scales to its panel's width (a viewBox, `width="100%"`); colours come
from the admin's CSS variables (sync/static/sync/admin.css), so dark mode works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sync import formatting

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 110, 20, 16, 40  # room for the axis labels
Y_TICKS = 5
X_TICKS = 6
VISIBLE_DOTS = 62  # more points than this: dots show on hover only


@dataclass(frozen=True)
class Point:
    when: date | datetime
    balance: Decimal


def money(value: Decimal | None, currency: str = "") -> str:
    """An amount with the currency's minor units and grouped digits ('-' when unknown)."""
    return formatting.money(value, currency, with_currency=bool(currency))


def _nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about Y_TICKS gridlines over `span`."""
    raw = span / Y_TICKS
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power  # pragma: no cover (the loop always returns)


def _ordinal(when: date | datetime) -> float:
    if isinstance(when, datetime):
        return when.timestamp() / 86400
    return float(when.toordinal())


def _axis_money(value: float, step: float, currency: str) -> str:
    places = 0 if step >= 1 else min(formatting.minor_units(currency), max(0, -math.floor(math.log10(step))))
    return f"{formatting.grouped(Decimal(repr(value)), places)} {currency}"


def balance_chart(points: list[Point], *, currency: str, label: str = "Balance history") -> SafeString:
    """An SVG of balance over time; `points` in any order. Empty string when there are none.

    Labelled axes (dates below, amounts in `currency` on the left), horizontal
    gridlines at round amounts, a zero line when the balance crosses zero, and a
    title on every point ("2026-03-01: 1,250.00 USD") that browsers show on hover.
    """
    points = sorted(points, key=lambda p: _ordinal(p.when))
    if not points:
        return SafeString("")
    first, last = _ordinal(points[0].when), _ordinal(points[-1].when)
    low = float(min(p.balance for p in points))
    high = float(max(p.balance for p in points))
    if high == low:  # a flat line sits mid-chart
        low, high = low - max(1.0, abs(low) * 0.05), high + max(1.0, abs(high) * 0.05)
    step = _nice_step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(ordinal: float) -> float:
        return LEFT + (plot_w / 2 if last == first else plot_w * (ordinal - first) / (last - first))

    def y_at(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    coords = [(round(x_at(_ordinal(p.when)), 1), round(y_at(float(p.balance)), 1)) for p in points]
    line = " ".join(f"{cx},{cy}" for cx, cy in coords)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        ((cx, cy, _day(p.when), money(p.balance, currency)) for (cx, cy), p in zip(coords, points, strict=True)),
    )
    ticks = [low + i * step for i in range(round((high - low) / step) + 1)]
    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                round(y_at(v), 1),
                round(y_at(v), 1),
                LEFT - 8,
                round(y_at(v), 1),
                _axis_money(v, step, currency),
            )
            for v in ticks
        ),
    )
    zero = ""
    if low < 0 < high:
        zero_y = round(y_at(0), 1)
        zero = format_html('<line class="zero" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, zero_y, zero_y)
    return format_html(
        '<svg class="balance-chart{dense}" viewBox="0 0 {w} {h}" width="100%" preserveAspectRatio="xMidYMid meet" '
        'role="img" aria-label="{label}"><title>{label} ({currency})</title>'
        '<rect class="plot" x="{l}" y="{t}" width="{pw}" height="{ph}"/>{grid}{zero}{dates}'
        '<polyline class="line" points="{line}"/>{dots}</svg>',
        dense=" dense" if len(points) > VISIBLE_DOTS else "",
        w=WIDTH,
        h=HEIGHT,
        l=LEFT,
        t=TOP,
        pw=plot_w,
        ph=plot_h,
        label=label,
        currency=currency,
        grid=grid,
        zero=zero,
        dates=_date_axis(points, x_at),
        line=line,
        dots=dots,
    )


def _day(when: date | datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if isinstance(when, datetime) else when.isoformat()


def _date_axis(points: list[Point], x_at) -> SafeString:
    """Up to X_TICKS dates evenly spread from the first to the last point, each with a tick mark."""
    if len(points) == 1:
        picks = [points[0]]
    else:
        n = min(X_TICKS, len(points))
        picks = [points[round(i * (len(points) - 1) / (n - 1))] for i in range(n)]
    y = HEIGHT - BOTTOM
    marks = []
    for i, p in enumerate(dict.fromkeys(picks)):
        cx = round(x_at(_ordinal(p.when)), 1)
        anchor = "start" if i == 0 and len(picks) > 1 else ("end" if p is picks[-1] and len(picks) > 1 else "middle")
        marks.append((cx, cx, y, y + 5, cx, y + 20, anchor, p.when.strftime("%Y-%m-%d")))
    return format_html_join(
        "",
        '<line class="tick" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
        marks,
    )
