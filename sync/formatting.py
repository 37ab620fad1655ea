"""Money and quantities as people read them, for every interface that shows them.

`-31.49 USD`, `1,250 JPY`, `2,427`: amounts get their currency's minor units
(ISO 4217: most have 2, JPY 0, KWD 3) and grouped digits; quantities and prices
keep the precision they were given, without the storage's trailing zeros.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

# ISO 4217 currencies whose minor unit is not 2 digits (the rest have 2).
MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (2 when unknown)."""
    return MINOR_UNITS.get((currency or "").upper(), 2)


def grouped(value: Decimal | int, places: int) -> str:
    """`value` rounded to `places` decimals with comma-grouped thousands: 2427 -> '2,427'."""
    quantum = Decimal(1).scaleb(-places)
    return f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN):,.{places}f}"


def money(value: Decimal | None, currency: str = "", *, with_currency: bool = True) -> str:
    """'-31.49 USD', '1,250 JPY'; '-' when unknown."""
    if value is None:
        return "-"
    text = grouped(value, minor_units(currency))
    if text.startswith("-") and not any(digit in text for digit in "123456789"):
        text = text[1:]  # no '-0.00'
    return f"{text} {currency}" if with_currency and currency else text


def quantity(value: Decimal | None) -> str:
    """A quantity or a price at the precision it was given: 12.50000000 -> '12.5', 1000 -> '1,000'; '-' when unknown."""
    if value is None:
        return "-"
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):,}"
    return f"{value.normalize():,f}"


def price(value: Decimal | None) -> str:
    """A unit price: at least 2 decimals, more when given (187.25, 0.00012345); '-' when unknown."""
    if value is None:
        return "-"
    value = Decimal(value).normalize()
    places = max(2, -value.as_tuple().exponent)
    return grouped(value, places)


def count(value: int) -> str:
    """'2,427'."""
    return f"{value:,}"


def duration(value: timedelta | float | None) -> str:
    """'0.4 s', '12 s', '3 min 05 s', '1 h 02 min'; '-' when unknown (still running)."""
    if value is None:
        return "-"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def moment(value, *, missing: str = "-") -> str:
    """A timestamp in a list column, short and local: '2026-12-07 16:46'; `missing` when None."""
    if value is None:
        return missing
    from django.utils import timezone

    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
