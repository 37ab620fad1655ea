"""SimpleFIN's transaction rows, read fast: one account at a time, spans by digest, a short mapping path.

A 60-day `/accounts` answer holds every account's rows (at a million rows,
some 80,000 of them). `read_frame` has msgspec read the answer's frame (the
errors and each account's own fields) and keep each account's
`transactions` as the raw bytes the server sent, so that the adapter parses
rows one account at a time and drops them once mapped. An account's raw
rows that make a span (`spannable`) are named by a digest of those bytes
(`span_digest`); when it equals a digest the sync already holds, only the
ids are read (`row_ids`). An answer that msgspec cannot frame this way is
read whole by the adapter's careful path, which names what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from providers.base import AccountData, TransactionData
from providers.payload import epoch_date, epoch_datetime, in_epoch_range, number_text

# Part of every span digest: change it whenever the mapping of a row (or the
# digest itself) changes, so that spans stored by older code no longer match.
SPAN_FORMAT = "simplefin-transactions-2"


NO_ROWS = msgspec.Raw(b"null")


def plain_id(value: Any) -> bool:
    """A non-empty string id without blanks around it: one the careful reader (payload.as_id) keeps as it is."""
    return type(value) is str and value != "" and not value[0].isspace() and not value[-1].isspace()


def epoch(day: date) -> int:
    return int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())


# --- SimpleFIN's field rules, for the careful reader and the short path alike -------------------


def dating(pending: bool | None, posted: int, transacted: int | None) -> tuple[bool, int | None]:
    """SimpleFIN's pending rule: whether a row is pending, and the epoch it is dated by (None: nothing dates it).

    A row is pending when it says so or when `posted` is 0 (SimpleFIN's "not
    posted yet"). A posted row is dated when it posted. A pending row is dated
    when it happened (`transacted`; None when the row gives no time, as null
    or 0 do), else by a non-zero `posted`; with neither it is undated: the
    mapping dates it today (`row_date`) and it makes no span.
    """
    if pending or posted == 0:
        return True, (transacted if transacted is not None else posted or None)
    return False, posted


def row_date(when: int | None, today: date) -> date:
    """The day a row is dated (the epoch `dating` gives), `today` for an undated pending row."""
    return today if when is None else epoch_date(when)


# --- the frame of an answer ------------------------------------------------------------------


class _Frame(msgspec.Struct):
    accounts: list[msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET
    errors: Any = msgspec.UNSET
    errlist: Any = msgspec.UNSET


class _Account(msgspec.Struct):
    """The account fields SimpleFINProvider._account reads, and the rows as bytes."""

    id: Any = msgspec.UNSET
    name: Any = msgspec.UNSET
    currency: Any = msgspec.UNSET
    balance: Any = msgspec.UNSET
    available_balance: Any = msgspec.field(default=msgspec.UNSET, name="available-balance")
    balance_date: Any = msgspec.field(default=msgspec.UNSET, name="balance-date")
    holdings: Any = msgspec.UNSET
    transactions: msgspec.Raw = NO_ROWS  # absent or null alike, as for the careful reader


class _Id(msgspec.Struct):
    id: str


_FRAME = msgspec.json.Decoder(_Frame, float_hook=Decimal)
_ACCOUNT = msgspec.json.Decoder(_Account, float_hook=Decimal)
_ROWS = msgspec.json.Decoder(float_hook=Decimal)
_IDS = msgspec.json.Decoder(list[_Id])
_ACCOUNT_KEYS = {
    "id": "id",
    "name": "name",
    "currency": "currency",
    "balance": "balance",
    "available_balance": "available-balance",
    "balance_date": "balance-date",
    "holdings": "holdings",
}


@dataclass(frozen=True, slots=True)
class AccountRows:
    """One account of an answer: its own fields (as the JSON object gave them) and its rows, still raw."""

    fields: dict
    rows: msgspec.Raw  # NO_ROWS when the account has no `transactions` (or null)


def read_frame(data: bytes) -> tuple[dict, list[AccountRows]] | None:
    """The answer's `errors`/`errlist` (as a dict) and its accounts; None when it is not framed as usual.

    Usual: a JSON object whose `accounts` is a list of objects. Anything else
    (not JSON, not UTF-8, NaN literals msgspec refuses, a missing `accounts`)
    is for the careful path to read and name.
    """
    try:
        frame = _FRAME.decode(data)
        if frame.accounts is msgspec.UNSET:
            return None
        accounts = [_ACCOUNT.decode(raw) for raw in frame.accounts]
    except (msgspec.DecodeError, ValueError, TypeError):
        return None
    body = {name: getattr(frame, name) for name in ("errors", "errlist") if getattr(frame, name) is not msgspec.UNSET}
    return body, [
        AccountRows(
            fields={
                key: getattr(account, attribute)
                for attribute, key in _ACCOUNT_KEYS.items()
                if getattr(account, attribute) is not msgspec.UNSET
            },
            rows=account.transactions,
        )
        for account in accounts
    ]


def parse_rows(rows: msgspec.Raw) -> Any:
    """An account's raw rows as JSON values (the frame was valid JSON, so they are too)."""
    return _ROWS.decode(rows)


def row_ids(rows: msgspec.Raw) -> list[str] | None:
    """Only the ids of an account's raw rows; None when they are not all objects with a string id."""
    if len(rows) == len(b"null") and bytes(rows) == b"null":
        return []
    try:
        return [row.id for row in _IDS.decode(rows)]
    except (msgspec.DecodeError, ValueError):
        return None


# --- spans ------------------------------------------------------------------------------------


def spannable(raw_transactions: list, first: date, last: date) -> bool:
    """Whether an account's parsed rows for [first, last] make a span.

    They do when each is an object with a plain string id (no two alike) and
    integer epochs that date it, as the adapter does, within [first, last]:
    then the window filter keeps every row and the mapped rows depend on
    nothing but the raw rows and the account's id and currency, which is what
    the digest covers. Undated pending rows (dated "today") and anything
    unusual make no span: those rows are simply always mapped.
    """
    low, high = epoch(first), epoch(last + timedelta(days=1))
    ids = set()
    for raw in raw_transactions:
        if type(raw) is not dict:
            return False
        transaction_id, posted = raw.get("id"), raw.get("posted")
        transacted, pending = raw.get("transacted_at"), raw.get("pending")
        if (
            not plain_id(transaction_id)
            or type(posted) is not int
            or not (transacted is None or type(transacted) is int)
            or not (pending is None or type(pending) is bool)
        ):
            return False
        _, when = dating(pending, posted, transacted or None)
        if when is None or not low <= when < high:  # undated: mapped to today
            return False
        ids.add(transaction_id)
    return len(ids) == len(raw_transactions)


def span_digest(rows: msgspec.Raw, account: AccountData, first: date, last: date) -> str:
    """What a span's rows are mapped from: their bytes as sent, the account's id and currency, the dates.

    Equal digests mean byte-equal rows for the same span, which then make a
    span again (`spannable` depends on nothing else): a known digest needs no
    second look at the rows.
    """
    digest = hashlib.sha256()  # a match skips rows: no collisions wanted; fast where the CPU has SHA instructions
    digest.update(
        json.dumps([SPAN_FORMAT, account.provider_account_id, account.currency, str(first), str(last)]).encode()
    )
    digest.update(rows)
    return digest.hexdigest()


# --- the short mapping path -----------------------------------------------------------------


def fast_transaction(raw: Any, account: AccountData, today: date) -> TransactionData | None:
    """`SimpleFINProvider._transaction` for a row in the usual shape, or None to let the careful reader decide.

    The usual shape: a string id without surrounding blanks, integer epochs, a
    numeric-string amount, string-or-null texts and a boolean-or-absent
    `pending`. Anything else (numeric ids, epochs as strings, bad values)
    takes the careful path, which maps it the same way or names the bad field.
    """
    if type(raw) is not dict:
        return None
    get = raw.get
    transaction_id, posted, amount = get("id"), get("posted"), get("amount")
    description, transacted, pending = get("description", _ABSENT), get("transacted_at"), get("pending")
    payee, extra = get("payee"), get("extra")
    if (
        not plain_id(transaction_id)
        or type(posted) is not int
        or not in_epoch_range(posted)
        or type(amount) is not str
        or not (description is None or type(description) is str)
        or not (transacted is None or (type(transacted) is int and in_epoch_range(transacted)))
        or not (pending is None or type(pending) is bool)
        or not (payee is None or type(payee) is str)
    ):
        return None
    value = number_text(amount)
    if value is None or not value.is_finite():
        return None
    transacted = transacted or None  # 0: no time, as for the careful reader
    is_pending, when = dating(pending, posted, transacted)
    category = extra.get("category") if type(extra) is dict else None
    return TransactionData(
        provider_transaction_id=transaction_id,
        provider_account_id=account.provider_account_id,
        posted_date=row_date(when, today),
        amount=value,
        currency=account.currency,
        description=description or "",
        payee=payee or "",
        category=category if isinstance(category, str) else "",
        pending=is_pending,
        transacted_at=None if transacted is None else epoch_datetime(transacted),
    )


_ABSENT = object()
