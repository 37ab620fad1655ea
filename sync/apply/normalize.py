"""Provider values as FinSync stores them: quantized decimals, ISO currencies, column tuples.

Decimals are quantized to their column's scale before anything is written, so
nothing is silently rounded by a database, and a value that does not fit is a
`provider_bad_response` naming the field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

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
    "status",
    "is_removed",
    "removed_at",
)


def _decimal(value, step: Decimal, limit: Decimal, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value).quantize(step)
    except (InvalidOperation, TypeError, ValueError):
        raise ProviderBadResponse(f"{what} is not a number") from None
    if not number.is_finite() or abs(number) >= limit:
        raise ProviderBadResponse(f"{what} is out of range")
    return number


def money(value, what: str) -> Decimal | None:
    return _decimal(value, MONEY_STEP, MONEY_LIMIT, what)


def quantity(value, what: str) -> Decimal | None:
    return _decimal(value, QUANTITY_STEP, QUANTITY_LIMIT, what)


def currency(value: str, what: str) -> str:
    code = iso_currency(value) if value is None or isinstance(value, str) else None
    if code is None:
        raise ProviderBadResponse(f"{what} has an invalid currency code")
    return code


def transaction_values(data: TransactionData) -> dict:
    what = f"transaction {data.provider_transaction_id}"
    if not isinstance(data.posted_date, date):
        raise ProviderBadResponse(f"{what} has no date")
    return {
        "posted_date": data.posted_date,
        "transacted_at": data.transacted_at,
        "amount": money(data.amount, f"{what} amount"),
        "currency": currency(data.currency, what),
        "description": data.description or "",
        "payee": (data.payee or "")[:255],
        "provider_category": (data.category or "")[:255],
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
    if type(amount) is Decimal and code is not None and isinstance(data.posted_date, date):
        try:
            amount = amount.quantize(MONEY_STEP)
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
