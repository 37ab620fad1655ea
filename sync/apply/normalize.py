"""Provider values as FinSync stores them: quantized decimals, ISO currencies, column tuples.

Decimals are quantized to their column's scale before anything is written, so
nothing is silently rounded by a database, and a value that does not fit is a
`provider_bad_response` naming the field.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from providers.base import TransactionData
from providers.payload import iso_currency
from sync.errors import ProviderBadResponse
from sync.models import Transaction

MONEY_STEP = Decimal("0.0001")
QUANTITY_STEP = Decimal("0.00000001")
MONEY_LIMIT = Decimal(10) ** 15  # Decimal(19, 4)
QUANTITY_LIMIT = Decimal(10) ** 16  # Decimal(24, 8)

TRANSACTION_SYNCED_FIELDS = (
    "posted_date",
    "transacted_at",
    "amount",
    "currency",
    "description",
    "payee",
    "provider_category",
    # Investment activity: null for plain bank transactions (see INVESTMENT_NONE).
    "activity_type",
    "symbol",
    "quantity",
    "price",
    "fees",
    "status",
    # These two stay last: a soft removal rewrites the tail (sync.apply.transactions._remove).
    "is_removed",
    "removed_at",
)
ACTIVITY_TYPES = frozenset(Transaction.ActivityType.values)


def _decimal(value: object, step: Decimal, limit: Decimal, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, TypeError, ValueError):
        raise ProviderBadResponse(f"{what} is not a number") from None
    if not number.is_finite() or abs(number) >= limit:
        raise ProviderBadResponse(f"{what} is out of range")
    return number


def money(value: object, what: str) -> Decimal | None:
    return _decimal(value, MONEY_STEP, MONEY_LIMIT, what)


def quantity(value: object, what: str) -> Decimal | None:
    return _decimal(value, QUANTITY_STEP, QUANTITY_LIMIT, what)


def currency(value: str, what: str) -> str:
    code = iso_currency(value) if value is None or isinstance(value, str) else None
    if code is None:
        raise ProviderBadResponse(f"{what} has an invalid currency code")
    return code


def activity_type(value: object, what: str) -> str | None:
    """One of Transaction.ActivityType, or None when the provider reports none."""
    if value in (None, ""):
        return None
    if value not in ACTIVITY_TYPES:
        raise ProviderBadResponse(f"{what} has an unknown activity type")
    return str(value)


def transaction_values(data: TransactionData) -> dict:
    what = f"transaction {data.provider_transaction_id}"
    if not isinstance(data.posted_date, date):
        raise ProviderBadResponse(f"{what} has no date")
    if data.symbol is not None and not isinstance(data.symbol, str):
        raise ProviderBadResponse(f"{what} has a symbol that is not text")
    return {
        "posted_date": data.posted_date,
        "transacted_at": data.transacted_at,
        "amount": money(data.amount, f"{what} amount"),
        "currency": currency(data.currency, what),
        "description": data.description or "",
        "payee": (data.payee or "")[:255],
        "provider_category": (data.category or "")[:255],
        "activity_type": activity_type(data.activity_type, what),
        "symbol": (data.symbol or "")[:64] or None,
        "quantity": quantity(data.quantity, f"{what} quantity"),
        "price": quantity(data.price, f"{what} price"),
        "fees": money(data.fees, f"{what} fees"),
        "status": Transaction.Status.PENDING if data.pending else Transaction.Status.POSTED,
        "is_removed": False,
        "removed_at": None,
    }


def transaction_row(data: TransactionData) -> tuple:
    """`transaction_values` as a tuple in TRANSACTION_SYNCED_FIELDS order, built without the dict.

    This runs once per fetched row: the usual values (a Decimal amount in
    range, a known currency code) take a short path; anything else goes
    through `transaction_values`, which gives the same tuple or the error.
    """
    amount, code = data.amount, _CURRENCIES.get(data.currency)
    # A plain bank transaction (no investment fields) takes the short path; a brokerage
    # activity goes through `transaction_values`, which checks and quantizes its fields.
    plain = not data.activity_type and not data.symbol and data.quantity is None and data.price is None
    plain = plain and data.fees is None and isinstance(data.posted_date, date)
    if plain and type(amount) is Decimal and code is not None:
        try:
            amount = amount.quantize(MONEY_STEP, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            amount = None
        if amount is not None and amount.is_finite() and -MONEY_LIMIT < amount < MONEY_LIMIT:
            return (
                data.posted_date,
                data.transacted_at,
                amount,
                code,
                data.description or "",
                (data.payee or "")[:255],
                (data.category or "")[:255],
                None,
                None,
                None,
                None,
                None,
                _PENDING if data.pending else _POSTED,
                False,
                None,
            )
    values = transaction_values(data)
    if isinstance(data.currency, str) and len(_CURRENCIES) < 1000:
        _CURRENCIES[data.currency] = values["currency"]
    return tuple(values[name] for name in TRANSACTION_SYNCED_FIELDS)


_PENDING, _POSTED = Transaction.Status.PENDING.value, Transaction.Status.POSTED.value
_CURRENCIES: dict[str, str] = {}  # valid codes as given -> as stored, learnt from transaction_values
