"""Plaid's Transaction objects read fast: a direct path for well-formed rows, the careful readers for the rest.

A /transactions/sync page carries 500 full Transaction objects, most of whose
fields (location, payment_meta, counterparties, ...) FinSync does not store.
`read_sync_answer` has msgspec decode only the fields the mapping reads
(`Row`), skipping the rest unbuilt. 100,000 rows through a dozen careful
readers each (with their paths built up front) would then cost more than the
rest of the mapping: `fast_transaction` and `fast_removed` read each field
with a type check and give up at the first surprise; the adapter then reads
that page whole and maps with its careful readers, which give the same
result or the error naming the field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from providers import payload as p
from providers.base import RemovedTransaction, TransactionData
from providers.errors import ProviderBadResponse
from providers.payload import currency_code


class Row(msgspec.Struct, gc=False):
    """The fields of a Plaid Transaction the mapping reads; absent ones read as None (as dict.get gives)."""

    transaction_id: Any = None
    account_id: Any = None
    amount: Any = None
    date: Any = None
    pending: Any = None
    name: Any = None
    original_description: Any = None
    merchant_name: Any = None
    iso_currency_code: Any = None
    unofficial_currency_code: Any = None
    personal_finance_category: Any = None
    category: Any = None
    datetime: Any = None
    authorized_datetime: Any = None
    pending_transaction_id: Any = None


class _SyncAnswer(msgspec.Struct):
    accounts: Any = msgspec.UNSET
    added: list[Row] | msgspec.UnsetType = msgspec.UNSET
    modified: list[Row] | msgspec.UnsetType = msgspec.UNSET
    removed: Any = msgspec.UNSET
    next_cursor: Any = msgspec.UNSET
    has_more: Any = msgspec.UNSET


_SYNC_ANSWER = msgspec.json.Decoder(_SyncAnswer, float_hook=Decimal)


def read_sync_answer(data: bytes) -> dict | None:
    """A /transactions/sync answer with `added` and `modified` as `Row`s; None when it is not in the usual shape.

    Usual: a JSON object with every key the page reader needs, whose added
    and modified rows are objects. Anything else is for the careful path.
    """
    try:
        answer = _SYNC_ANSWER.decode(data)
    except (msgspec.DecodeError, ValueError):
        return None
    body = {name: getattr(answer, name) for name in _SyncAnswer.__struct_fields__}
    return None if msgspec.UNSET in body.values() else body


def category(get) -> str:
    """personal_finance_category.primary, else the legacy `category` list joined with " > ".

    `get` reads a field: a row's dict.get, or a decoded Row's attribute getter.
    """
    category = get("personal_finance_category")
    primary = category.get("primary") if isinstance(category, dict) else None
    if not isinstance(primary, str):
        legacy = get("category")
        primary = " > ".join(c for c in legacy if isinstance(c, str)) if isinstance(legacy, list) else ""
    return primary


def currency_field(get) -> Any:
    """The currency an object states, as sent: `iso_currency_code`, else `unofficial_currency_code`."""
    return get("iso_currency_code") or get("unofficial_currency_code")


def currency(code: str | None) -> str:
    """A stated currency (a string, or empty) as FinSync stores it; USD when none is stated.

    Custom currencies (points, miles) become "XXX" (payload.currency_code).
    """
    return currency_code(code) if code else "USD"


def money_in(amount: Decimal) -> Decimal:
    """A Plaid transaction amount as FinSync signs it: Plaid's are positive for money out."""
    return -amount


def transacted_when(get) -> Any:
    """When the transaction happened, as sent: `datetime`, else `authorized_datetime`."""
    return get("datetime") or get("authorized_datetime")


def fast_transaction(raw: Any) -> TransactionData | None:
    """`PlaidProvider._transaction` of a well-formed row, read directly; None when anything is off.

    100,000 rows through a dozen careful readers (each with its path built
    up front) cost more than the rest of the mapping. This reads each field
    with a type check and gives up at the first surprise (a missing key, a
    wrong type, a value the careful readers would convert or refuse); the
    caller then maps the row with `_transaction`, which gives the same result
    or the error naming the field. Whatever this returns, `_transaction`
    returns too.
    """
    if type(raw) is dict:
        get = raw.get
    elif type(raw) is Row:
        get = raw.__getattribute__  # every field is there (None when absent)
    else:
        return None
    transaction_id, account_id, day, amount = get("transaction_id"), get("account_id"), get("date"), get("amount")
    if type(transaction_id) is not str or type(account_id) is not str or type(day) is not str:
        return None
    transaction_id, account_id = transaction_id.strip(), account_id.strip()
    if not transaction_id or not account_id:
        return None
    if type(amount) is Decimal:  # parse_json reads every fraction as a Decimal
        if not amount.is_finite():
            return None
    elif type(amount) is int:
        amount = Decimal(amount)
    else:
        return None
    pending = get("pending")
    if pending is not True and pending is not False:  # null (read as false) and missing: the careful path
        return None
    try:
        posted = date.fromisoformat(day)
    except ValueError:
        return None
    code = currency_field(get)
    if code and type(code) is not str:
        return None
    description = get("name")
    if description is None or description == "":  # as `name or original_description`, both nullable
        description = get("original_description")
        if description is None:
            description = ""
    if type(description) is not str:
        return None
    payee = get("merchant_name")
    if payee is None:
        payee = ""
    elif type(payee) is not str:
        return None
    replaces = get("pending_transaction_id")
    if replaces is None:
        replaces = ""
    elif type(replaces) is not str:
        return None
    when = transacted_when(get)
    if when is not None:
        if type(when) is not str:
            return None
        try:
            when = p.as_datetime(when, "datetime")
        except ProviderBadResponse:
            return None
    return TransactionData(
        provider_transaction_id=transaction_id,
        provider_account_id=account_id,
        posted_date=posted,
        amount=money_in(amount),
        currency=currency(code),
        description=description,
        payee=payee,
        category=category(get),
        pending=pending,
        transacted_at=when,
        pending_transaction_id=replaces,
    )


def fast_removed(raw: Any) -> RemovedTransaction | None:
    """`PlaidProvider._removed` of an entry with both ids as plain strings; None otherwise."""
    if type(raw) is not dict:
        return None
    transaction_id, account_id = raw.get("transaction_id"), raw.get("account_id")
    if type(transaction_id) is not str or type(account_id) is not str:
        return None
    transaction_id, account_id = transaction_id.strip(), account_id.strip()
    if not transaction_id or not account_id:
        return None
    return RemovedTransaction(provider_account_id=account_id, provider_transaction_id=transaction_id)


def next_request(body: dict) -> tuple[str, bool] | None:
    """(next_cursor or "", has_more) of a page that states both plainly; None leaves it to the careful readers."""
    cursor, has_more = body.get("next_cursor", False), body.get("has_more", 0)
    if cursor is None:
        cursor = ""
    if type(cursor) is not str or (has_more is not True and has_more is not False and has_more is not None):
        return None
    return cursor, bool(has_more)


# Plaid's investment transaction (type, subtype) -> FinSync's activity type; by subtype first,
# then by type. Plaid's types: buy, sell, cancel, cash, fee, transfer.
INVESTMENT_SUBTYPES = {
    "dividend": "dividend",
    "qualified dividend": "dividend",
    "non-qualified dividend": "dividend",
    "interest": "interest",
    "interest receivable": "interest",
    "tax": "tax",
    "tax withheld": "tax",
    "non-resident tax": "tax",
    "deposit": "deposit",
    "contribution": "deposit",
    "withdrawal": "withdrawal",
    "distribution": "withdrawal",
    "split": "split",
}
INVESTMENT_TYPES = {"buy": "buy", "sell": "sell", "fee": "fee", "transfer": "transfer", "cash": "other"}


def activity_type(kind: str, subtype: str) -> str:
    """FinSync's activity type of a Plaid investment transaction's `type` and `subtype`."""
    if kind in ("buy", "sell"):  # a dividend reinvestment is a buy, whatever its subtype says
        return kind
    return INVESTMENT_SUBTYPES.get(subtype) or INVESTMENT_TYPES.get(kind, "other")


def investment_transaction(raw: dict, securities: dict[str, dict], path: str) -> TransactionData:
    """An InvestmentTransaction joined to its security (by `security_id`, which cash rows may lack)."""
    security_id = p.as_str(raw.get("security_id"), f"{path}.security_id", nullable=True)
    security = securities.get(security_id) if security_id else None
    if security_id and security is None:
        raise p.bad(f"{path}.security_id", "no such security in the response")
    code = currency_field(raw.get)
    amount = p.as_decimal(p.field(raw, "amount", path), f"{path}.amount")
    return TransactionData(
        provider_transaction_id=p.as_id(
            p.field(raw, "investment_transaction_id", path), f"{path}.investment_transaction_id"
        ),
        provider_account_id=p.as_id(p.field(raw, "account_id", path), f"{path}.account_id"),
        posted_date=p.as_date(p.field(raw, "date", path), f"{path}.date"),
        amount=money_in(amount),
        currency=currency(p.as_str(code, f"{path}.iso_currency_code") if code else ""),
        description=p.as_str(raw.get("name"), f"{path}.name", nullable=True),
        activity_type=activity_type(
            p.as_str(p.field(raw, "type", path), f"{path}.type"),
            p.as_str(raw.get("subtype"), f"{path}.subtype", nullable=True),
        ),
        symbol=p.as_str((security or {}).get("ticker_symbol"), "security.ticker_symbol", nullable=True),
        quantity=p.as_decimal(raw.get("quantity"), f"{path}.quantity", nullable=True),
        price=p.as_decimal(raw.get("price"), f"{path}.price", nullable=True),
        fees=p.as_decimal(raw.get("fees"), f"{path}.fees", nullable=True),
    )
