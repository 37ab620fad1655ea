"""The server-rendered balance chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sync.admin.charts import HEIGHT, LEFT, RIGHT, WIDTH, Point, balance_chart

START = datetime(2026, 3, 1, 23, tzinfo=UTC)


def _coords(svg: str) -> list[tuple[float, float]]:
    points = re.search(r'<polyline class="line" points="([^"]*)"', svg).group(1)
    return [tuple(map(float, pair.split(","))) for pair in points.split()]


def test_no_points_draws_nothing():
    assert balance_chart([], currency="USD") == ""


def test_points_are_drawn_in_time_order_and_scaled_to_the_plot():
    points = [Point(START + timedelta(days=d), Decimal(b)) for d, b in ((2, "300"), (0, "100"), (1, "200"))]
    svg = balance_chart(points, currency="EUR")
    coords = _coords(svg)
    xs, ys = [x for x, _ in coords], [y for _, y in coords]
    assert xs == sorted(xs) and xs[0] == LEFT and xs[-1] == WIDTH - RIGHT
    assert ys[0] > ys[1] > ys[2]  # rising balance: SVG y grows downwards
    assert all(0 <= y <= HEIGHT for y in ys)
    assert "300.00 EUR" in svg and "100.00 EUR" in svg
    assert "2026-03-01" in svg and "2026-03-03" in svg
    assert svg.count("<circle") == 3
    assert 'class="zero"' not in svg


def test_one_point_and_a_flat_line_sit_mid_chart():
    svg = balance_chart([Point(START, Decimal("50"))], currency="USD")
    [(x, y)] = _coords(svg)
    assert x == LEFT + (WIDTH - LEFT - RIGHT) / 2
    assert 0 < y < HEIGHT


def test_a_balance_crossing_zero_draws_the_zero_line_and_groups_thousands():
    points = [Point(START, Decimal("-1250.5")), Point(START + timedelta(days=1), Decimal("2000000"))]
    svg = balance_chart(points, currency="USD")
    assert 'class="zero"' in svg
    assert "-1,250.50 USD" in svg and "2,000,000.00 USD" in svg


def test_labels_are_escaped():
    svg = balance_chart([Point(START, Decimal("1"))], currency="<b>")
    assert "<b>" not in svg and "&lt;b&gt;" in svg
