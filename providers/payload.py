"""Reading vendor JSON safely: typed field access that names the field on failure.

Every reader takes the value's path (e.g. ``accounts[2].balance``) so that a
malformed payload fails with ProviderBadResponse("accounts[2].balance: not a
number") instead of a KeyError deep in an adapter.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.errors import ProviderBadResponse

MISSING = object()
MAX_MESSAGE_CHARS = 500
EPOCH_LIMIT = 10**11  # UNIX timestamps at or past this (year 5138) are refused
_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def bad(path: str, problem: str) -> ProviderBadResponse:
    return ProviderBadResponse(f"{path}: {problem}")


def field(obj: dict, key: str, path: str, *, default: Any = MISSING) -> Any:
    """obj[key]; a missing key is an error unless a default is given (null counts as present)."""
    if key in obj:
        return obj[key]
    if default is MISSING:
        raise bad(f"{path}.{key}", "missing")
    return default


def as_object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise bad(path, "not an object")
    return value


def as_list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise bad(path, "not a list")
    return value


def as_str(value: Any, path: str, *, nullable: bool = False) -> str:
    if value is None and nullable:
        return ""
    if not isinstance(value, str):
        raise bad(path, "not a string")
    return value


def as_id(value: Any, path: str) -> str:
    """A non-empty identifier; some providers send numeric ids."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(path, "not an id")
    text = str(value).strip()
    if not text:
        raise bad(path, "empty")
    return text


def as_bool(value: Any, path: str, *, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(path, "not true or false")
    return value


def as_decimal(value: Any, path: str, *, nullable: bool = False) -> Decimal | None:
    """A number given as a JSON number or a numeric string (never through float)."""
    if value is None:
        if nullable:
            return None
        raise bad(path, "not a number")
    if isinstance(value, bool):
        raise bad(path, "not a number")
    if isinstance(value, float):  # only if a caller parsed without parse_float=Decimal
        value = repr(value)
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        number = number_text(value)
        if number is None:
            raise bad(path, "not a number")
    else:
        raise bad(path, "not a number")
    if not number.is_finite():
        raise bad(path, "not a finite number")
    return number


def number_text(text: str) -> Decimal | None:
    """A number written as text (blanks around and thousands separators allowed); None when it is not one.

    Infinities and NaN are numbers here: the callers refuse them.
    """
    try:
        return Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None


def as_epoch(value: Any, path: str) -> int:
    """A UNIX timestamp in seconds (an integer, or an integral numeric string)."""
    number = as_decimal(value, path)
    if number != number.to_integral_value() or not in_epoch_range(number):
        raise bad(path, "not a UNIX timestamp")
    return int(number)


def in_epoch_range(seconds: int | Decimal) -> bool:
    """Whether a whole number of seconds is a UNIX timestamp FinSync takes: from 1970 to before EPOCH_LIMIT."""
    return 0 <= seconds < EPOCH_LIMIT


def epoch_datetime(seconds: int) -> datetime:
    """A UNIX timestamp (as `as_epoch` reads it) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def epoch_date(seconds: int) -> date:
    """The UTC day of a UNIX timestamp (as `as_epoch` reads it)."""
    return datetime.fromtimestamp(seconds, tz=UTC).date()


def as_date(value: Any, path: str, *, nullable: bool = False) -> date | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad(path, "not a date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad(path, "not a date (YYYY-MM-DD)") from None


def as_datetime(value: Any, path: str, *, nullable: bool = False) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive ones are taken as UTC)."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad(path, "not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(path, "not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_currency(value: str | None) -> str | None:
    """A currency code as FinSync stores it (three letters, upper case, no blanks); None when it is not one."""
    if value and len(value) == 3 and value.isascii() and value.isalpha() and value.isupper():
        return value  # the usual case, as given: no new string per row
    code = (value or "").strip().upper()
    return code if len(code) == 3 and code.isalpha() else None


def currency_code(value: str | None) -> str:
    """An ISO 4217 code as given; "XXX" (no currency) for custom currencies (points, miles, URLs)."""
    return iso_currency(value) or "XXX"


def sanitize_message(text: Any, *, secrets: tuple[str, ...] = ()) -> str:
    """A provider's user-facing message made safe to store and show: plain text, one line, no credentials."""
    message = text if isinstance(text, str) else str(text)
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    message = _URL_USERINFO.sub(r"\1***@", message)
    message = _TAG.sub("", message)
    message = _CONTROL.sub(" ", message)
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message
