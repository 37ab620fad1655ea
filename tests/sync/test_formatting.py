"""Money and quantities as people read them (sync.formatting)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sync.formatting import count, duration, money, price, quantity


def test_money_uses_the_currencys_minor_units_and_groups_digits():
    assert money(Decimal("-31.4900"), "USD") == "-31.49 USD"
    assert money(Decimal("1250.0000"), "JPY") == "1,250 JPY"
    assert money(Decimal("1.2345"), "KWD") == "1.234 KWD"  # half-even at the third digit
    assert money(Decimal("2540.92"), "usd") == "2,540.92 usd"
    assert money(Decimal("-0.001"), "USD") == "0.00 USD"
    assert money(None, "USD") == "-"
    assert money(Decimal("5"), "") == "5.00"


def test_quantities_drop_trailing_zeros_and_prices_keep_their_precision():
    assert quantity(Decimal("12.50000000")) == "12.5"
    assert quantity(Decimal("1000.00000000")) == "1,000"
    assert quantity(Decimal("0.00012345")) == "0.00012345"
    assert quantity(None) == "-"
    assert price(Decimal("187.25000000")) == "187.25"
    assert price(Decimal("187.00000000")) == "187.00"
    assert price(Decimal("0.00012345")) == "0.00012345"


def test_counts_and_durations():
    assert count(2427) == "2,427"
    assert duration(timedelta(seconds=0.42)) == "0.4 s"
    assert duration(timedelta(seconds=42)) == "42 s"
    assert duration(timedelta(seconds=185)) == "3 min 05 s"
    assert duration(timedelta(hours=1, minutes=2)) == "1 h 02 min"
    assert duration(None) == "-"
