"""Alpaca's activities, positions and account read into FinSync's DTOs.

Every number Alpaca sends is a string of a decimal; every reader names the
field it refuses (`trade_activity page 2[5].price: not a number`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from providers import payload as p
from providers.base import AccountData, HoldingData, RemovedTransaction, TransactionData

# Alpaca's trading day is New York's: a fill at 22:00 New York time (03:00 UTC the
# next day) belongs to the day it was traded.
MARKET_TIME = ZoneInfo("America/New_York")

# Non-trade activity types by FinSync activity type; DIV* (DIV, DIVCGL, DIVNRA, ...)
# are dividends whatever follows, anything else unknown is "other", never an error.
NON_TRADE_TYPES = {
    "INT": "interest",
    "FEE": "fee",
    "CFEE": "fee",
    "CSD": "deposit",
    "CSW": "withdrawal",
    "JNLC": "transfer",
    "JNLS": "transfer",
    "SPLIT": "split",
    "WH": "tax",
}
# Types whose `qty` is units received (positive) or delivered (negative); for others
# (a dividend's qty is the position it was paid on) it is not a movement of units.
UNIT_TYPES = frozenset({"SPLIT"})
SIDES = {"buy": 1, "sell": -1, "sell_short": -1}
CANCELED = "canceled"


def activity_type(raw: str) -> str:
    """FinSync's activity type of a non-trade activity type."""
    if raw.startswith("DIV"):
        return "dividend"
    return NON_TRADE_TYPES.get(raw, "other")


def _booking_day(value, path: str) -> date:
    """A non-trade activity's `date`: a day, or (some types) a timestamp, taken on New York's calendar."""
    if isinstance(value, str) and len(value) > 10:
        return p.as_datetime(value, path).astimezone(MARKET_TIME).date()
    return p.as_date(value, path)


def account(raw: dict, environment: str) -> AccountData:
    """`GET /v2/account`: one brokerage account per key; the full account number stays out (mask only)."""
    path = "account"
    number = p.as_str(raw.get("account_number"), f"{path}.account_number", nullable=True)
    as_of = p.as_date(raw.get("balance_asof"), f"{path}.balance_asof", nullable=True)
    currency = p.as_str(raw.get("currency"), f"{path}.currency", nullable=True)
    return AccountData(
        provider_account_id=p.as_id(p.field(raw, "id", path), f"{path}.id"),
        name=f"Alpaca {environment} account",
        type="investment",
        subtype="brokerage",
        mask=number[-4:],
        currency=p.currency_code(currency) if currency else "USD",
        balance=p.as_decimal(p.field(raw, "equity", path), f"{path}.equity"),
        available_balance=p.as_decimal(raw.get("cash"), f"{path}.cash", nullable=True),
        # Alpaca's own date of the balance: an unchanged re-sync records no new snapshot.
        balance_date=datetime.combine(as_of, time.min, tzinfo=UTC) if as_of else None,
    )


def fill(raw: dict, path: str, account: AccountData) -> TransactionData:
    """A FILL: buy or sell (a short sale is a sell), signed units, amount -(qty x price) for a buy."""
    side = p.as_str(p.field(raw, "side", path), f"{path}.side")
    if side not in SIDES:
        raise p.bad(f"{path}.side", "not buy, sell or sell_short")
    sign = SIDES[side]
    qty = abs(p.as_decimal(p.field(raw, "qty", path), f"{path}.qty"))
    price = p.as_decimal(p.field(raw, "price", path), f"{path}.price")
    symbol = p.as_str(p.field(raw, "symbol", path), f"{path}.symbol")
    when = p.as_datetime(p.field(raw, "transaction_time", path), f"{path}.transaction_time")
    kind = p.as_str(raw.get("type"), f"{path}.type", nullable=True)
    label = "partial fill" if kind == "partial_fill" else "fill"
    return TransactionData(
        provider_transaction_id=p.as_id(p.field(raw, "id", path), f"{path}.id"),
        provider_account_id=account.provider_account_id,
        posted_date=when.astimezone(MARKET_TIME).date(),
        transacted_at=when,
        amount=-sign * qty * price,
        currency=account.currency,
        description=f"{side.replace('_', ' ')} {qty} {symbol} @ {price} ({label})",
        activity_type="buy" if sign > 0 else "sell",
        symbol=symbol,
        quantity=sign * qty,
        price=price,
    )


def non_trade(raw: dict, path: str, account: AccountData, kind: str) -> TransactionData:
    """A non-trade activity, booked on its `date`, its `net_amount` as sent (positive is cash in)."""
    symbol = p.as_str(raw.get("symbol"), f"{path}.symbol", nullable=True)
    quantity = None
    if kind in UNIT_TYPES:
        quantity = p.as_decimal(raw.get("qty"), f"{path}.qty", nullable=True)
    description = p.sanitize_message(p.as_str(raw.get("description"), f"{path}.description", nullable=True))
    return TransactionData(
        provider_transaction_id=p.as_id(p.field(raw, "id", path), f"{path}.id"),
        provider_account_id=account.provider_account_id,
        posted_date=_booking_day(p.field(raw, "date", path), f"{path}.date"),
        amount=p.as_decimal(p.field(raw, "net_amount", path), f"{path}.net_amount"),
        currency=account.currency,
        description=description or kind,
        category=kind,
        activity_type=activity_type(kind),
        symbol=symbol,
        quantity=quantity,
        price=p.as_decimal(raw.get("per_share_amount"), f"{path}.per_share_amount", nullable=True),
    )


def activity(raw_item, path: str, account: AccountData) -> TransactionData | RemovedTransaction:
    """One activity of either category; a canceled one is a removal of its id."""
    raw = p.as_object(raw_item, path)
    kind = p.as_str(p.field(raw, "activity_type", path), f"{path}.activity_type")
    if kind == "FILL":
        return fill(raw, path, account)
    status = p.as_str(raw.get("status"), f"{path}.status", nullable=True)
    if status == CANCELED:
        return RemovedTransaction(
            provider_account_id=account.provider_account_id,
            provider_transaction_id=p.as_id(p.field(raw, "id", path), f"{path}.id"),
        )
    return non_trade(raw, path, account, kind)


def position(raw_item, path: str, account_id: str) -> HoldingData:
    """A position; `side: short` is a negative quantity whatever sign `qty` carries."""
    raw = p.as_object(raw_item, path)
    symbol = p.as_str(p.field(raw, "symbol", path), f"{path}.symbol")
    asset_id = p.as_str(raw.get("asset_id"), f"{path}.asset_id", nullable=True) or symbol
    side = p.as_str(raw.get("side"), f"{path}.side", nullable=True) or "long"
    if side not in ("long", "short"):
        raise p.bad(f"{path}.side", "not long or short")
    qty = abs(p.as_decimal(p.field(raw, "qty", path), f"{path}.qty"))
    return HoldingData(
        provider_holding_id=p.as_id(asset_id, f"{path}.asset_id"),
        provider_account_id=account_id,
        symbol=symbol,
        name=symbol,
        asset_type=p.as_str(raw.get("asset_class"), f"{path}.asset_class", nullable=True),
        quantity=-qty if side == "short" else qty,
        price=p.as_decimal(raw.get("current_price"), f"{path}.current_price", nullable=True),
        cost_basis=p.as_decimal(raw.get("cost_basis"), f"{path}.cost_basis", nullable=True),
        market_value=p.as_decimal(raw.get("market_value"), f"{path}.market_value", nullable=True),
    )
