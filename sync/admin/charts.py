"""A server-rendered SVG line chart of an account's balance history (no JavaScript, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 130, 20, 16, 36  # room for the axis labels


@dataclass(frozen=True)
class Point:
    when: datetime
    balance: Decimal


def money(value: Decimal | None) -> str:
    """An amount with two decimals and thousands separators ('-' when unknown)."""
    if value is None:
        return "-"
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def balance_chart(points: list[Point], *, currency: str) -> SafeString:
    """An SVG of balance over time; `points` in any order. Empty string when there are none."""
    points = sorted(points, key=lambda p: p.when)
    if not points:
        return SafeString("")
    first, last = points[0].when.timestamp(), points[-1].when.timestamp()
    low = min(p.balance for p in points)
    high = max(p.balance for p in points)
    if high == low:  # a flat line sits mid-chart
        low, high = low - 1, high + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(p: Point) -> float:
        return LEFT + (plot_w / 2 if last == first else plot_w * (p.when.timestamp() - first) / (last - first))

    def y(value: Decimal) -> float:
        return TOP + plot_h * float((high - value) / (high - low))

    coords = [(round(x(p), 1), round(y(p.balance), 1)) for p in points]
    line = " ".join(f"{cx},{cy}" for cx, cy in coords)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {} {}</title></circle>',
        (
            (cx, cy, p.when.strftime("%Y-%m-%d %H:%M"), money(p.balance), currency)
            for (cx, cy), p in zip(coords, points, strict=True)
        ),
    )
    zero = ""
    if low < 0 < high:
        zero_y = round(y(Decimal(0)), 1)
        zero = format_html('<line class="zero" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, zero_y, zero_y)
    return format_html(
        '<svg class="balance-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="Balance history">'
        '<rect class="plot" x="{l}" y="{t}" width="{pw}" height="{ph}"/>{zero}'
        '<text class="axis" x="{lx}" y="{ty}" text-anchor="end">{high}</text>'
        '<text class="axis" x="{lx}" y="{by}" text-anchor="end">{low}</text>'
        '<text class="axis" x="{l}" y="{dy}">{start}</text>'
        '<text class="axis" x="{r}" y="{dy}" text-anchor="end">{end}</text>'
        '<polyline class="line" points="{line}"/>{dots}</svg>',
        w=WIDTH,
        h=HEIGHT,
        l=LEFT,
        t=TOP,
        pw=plot_w,
        ph=plot_h,
        zero=zero,
        lx=LEFT - 8,
        ty=TOP + 10,
        by=TOP + plot_h,
        dy=HEIGHT - 12,
        r=WIDTH - RIGHT,
        high=f"{money(high)} {currency}",
        low=f"{money(low)} {currency}",
        start=points[0].when.strftime("%Y-%m-%d"),
        end=points[-1].when.strftime("%Y-%m-%d"),
        line=line,
        dots=dots,
    )
