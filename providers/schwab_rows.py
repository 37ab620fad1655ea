"""Schwab's Trader API payloads read into FinSync's DTOs.

Numbers arrive as JSON numbers, parsed as Decimal (providers.http.parse_json);
every reader names the field it refuses (`transactions window 2[5].netAmount: not a number`).
Account identity: the plain account number never leaves this module except as
its last four (the mask); the adapter passes in the id it derived from it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from providers import payload as p
from providers.base import AccountData, HoldingData, RemovedTransaction, TransactionData

# Schwab's trading day is New York's: a trade's booking date is its New York calendar date.
MARKET_TIME = ZoneInfo("America/New_York")
CURRENCY = "CURRENCY"
# Schwab's transaction types by FinSync activity type (TRADE and ELECTRONIC_FUND are decided by sign,
# DIVIDEND_OR_INTEREST by its description); anything else is "other", never an error.
TYPES = {
    "RECEIVE_AND_DELIVER": "transfer",
    "JOURNAL": "transfer",
    "ACH_RECEIPT": "deposit",
    "CASH_RECEIPT": "deposit",
    "WIRE_IN": "deposit",
    "ACH_DISBURSEMENT": "withdrawal",
    "CASH_DISBURSEMENT": "withdrawal",
    "WIRE_OUT": "withdrawal",
}
# Types whose non-currency transfer item is a movement of units (quantity and symbol are the units').
UNIT_TYPES = frozenset({"TRADE", "RECEIVE_AND_DELIVER"})


def _first(obj: dict, keys: tuple[str, ...], path: str) -> Decimal | None:
    """The first of `keys` present (not null) in `obj`, as a Decimal."""
    for key in keys:
        if obj.get(key) is not None:
            return p.as_decimal(obj[key], f"{path}.{key}")
    return None


def account(raw_item, path: str, account_id: str) -> tuple[str, AccountData]:
    """One wrapper of `GET /accounts?fields=positions`: (the plain number, the account).

    Account value: aggregatedBalance.liquidationValue, else currentBalances.liquidationValue,
    else initialBalances.accountValue; cash: currentBalances.cashBalance, else totalCash,
    else cashAvailableForWithdrawal.
    """
    wrapper = p.as_object(raw_item, path)
    raw = p.as_object(p.field(wrapper, "securitiesAccount", path), f"{path}.securitiesAccount")
    path = f"{path}.securitiesAccount"
    number = p.as_id(p.field(raw, "accountNumber", path), f"{path}.accountNumber")
    kind = p.as_str(raw.get("type"), f"{path}.type", nullable=True) or "brokerage"
    aggregated = wrapper.get("aggregatedBalance") if isinstance(wrapper.get("aggregatedBalance"), dict) else {}
    current = raw.get("currentBalances") if isinstance(raw.get("currentBalances"), dict) else {}
    initial = raw.get("initialBalances") if isinstance(raw.get("initialBalances"), dict) else {}
    balance = _first(aggregated, ("liquidationValue",), f"{path}.aggregatedBalance")
    if balance is None:
        balance = _first(current, ("liquidationValue",), f"{path}.currentBalances")
    if balance is None:
        balance = _first(initial, ("accountValue",), f"{path}.initialBalances")
    cash = _first(current, ("cashBalance", "totalCash", "cashAvailableForWithdrawal"), f"{path}.currentBalances")
    return number, AccountData(
        provider_account_id=account_id,
        name=f"Schwab {kind.lower()} account",
        type="investment",
        subtype="brokerage",
        mask=number[-4:],
        balance=balance,
        available_balance=cash,
    )


def positions(raw_item, path: str) -> list:
    """The raw positions of one wrapper (none when the account has no `positions`)."""
    raw = p.as_object(p.as_object(raw_item, path).get("securitiesAccount"), f"{path}.securitiesAccount")
    return p.as_list(raw.get("positions") or [], f"{path}.securitiesAccount.positions")


def position(raw_item, path: str, account_id: str) -> HoldingData:
    """A position keyed on (asset type, symbol); quantity = longQuantity - shortQuantity."""
    raw = p.as_object(raw_item, path)
    instrument = p.as_object(p.field(raw, "instrument", path), f"{path}.instrument")
    symbol = p.as_str(p.field(instrument, "symbol", f"{path}.instrument"), f"{path}.instrument.symbol")
    asset_type = p.as_str(instrument.get("assetType"), f"{path}.instrument.assetType", nullable=True)
    long = p.as_decimal(raw.get("longQuantity", 0), f"{path}.longQuantity")
    short = p.as_decimal(raw.get("shortQuantity", 0), f"{path}.shortQuantity")
    quantity = long - short
    average = p.as_decimal(raw.get("averagePrice"), f"{path}.averagePrice", nullable=True)
    market_value = p.as_decimal(raw.get("marketValue"), f"{path}.marketValue", nullable=True)
    description = p.as_str(instrument.get("description"), f"{path}.instrument.description", nullable=True)
    return HoldingData(
        provider_holding_id=f"{asset_type}:{symbol}",
        provider_account_id=account_id,
        symbol=symbol,
        name=p.sanitize_message(description) or symbol,
        asset_type=asset_type.lower(),
        quantity=quantity,
        price=(market_value / quantity).quantize(Decimal("0.00000001"))
        if market_value is not None and quantity
        else None,
        cost_basis=average * quantity if average is not None else None,
        market_value=market_value,
        cusip=p.as_str(instrument.get("cusip"), f"{path}.instrument.cusip", nullable=True)[:12],
    )


def _booking(raw: dict, path: str) -> tuple[date, datetime]:
    """(the New York date of `tradeDate`, falling back to `time`; the execution time `time`)."""
    when = p.as_datetime(p.field(raw, "time", path), f"{path}.time")
    trade = p.as_datetime(raw.get("tradeDate"), f"{path}.tradeDate", nullable=True)
    return (trade or when).astimezone(MARKET_TIME).date(), when


def _items(raw: dict, path: str) -> tuple[dict | None, Decimal | None, str]:
    """(the first non-currency transfer item, the sum of the fee items' |cost|, its path)."""
    security, fees, where = None, None, ""
    for i, item_raw in enumerate(p.as_list(raw.get("transferItems") or [], f"{path}.transferItems")):
        item_path = f"{path}.transferItems[{i}]"
        item = p.as_object(item_raw, item_path)
        instrument = item.get("instrument") if isinstance(item.get("instrument"), dict) else {}
        if item.get("feeType"):
            cost = p.as_decimal(item.get("cost", 0), f"{item_path}.cost")
            fees = (fees or Decimal(0)) + abs(cost)
        elif security is None and instrument.get("assetType") not in (None, CURRENCY):
            security, where = item, item_path
    return security, fees, where


def activity_type(kind: str, net: Decimal, description: str) -> str:
    """FinSync's activity type of a Schwab transaction."""
    if kind == "TRADE":
        return "buy" if net < 0 else "sell"
    if kind == "DIVIDEND_OR_INTEREST":
        return "interest" if "INTEREST" in description.upper() else "dividend"
    if kind == "ELECTRONIC_FUND":
        return "deposit" if net >= 0 else "withdrawal"
    return TYPES.get(kind, "other")


def transaction(raw_item, path: str, account_id: str) -> TransactionData | RemovedTransaction:
    """One transaction: id `activityId`, cash effect `netAmount`; an INVALID one is a removal of its id."""
    raw = p.as_object(raw_item, path)
    ident = p.as_id(p.field(raw, "activityId", path), f"{path}.activityId")
    status = p.as_str(raw.get("status"), f"{path}.status", nullable=True)
    if status == "INVALID":
        return RemovedTransaction(provider_account_id=account_id, provider_transaction_id=ident)
    kind = p.as_str(p.field(raw, "type", path), f"{path}.type")
    net = p.as_decimal(p.field(raw, "netAmount", path), f"{path}.netAmount")
    posted, when = _booking(raw, path)
    description = p.sanitize_message(p.as_str(raw.get("description"), f"{path}.description", nullable=True))
    security, fees, where = _items(raw, path)
    activity = activity_type(kind, net, description)
    symbol, quantity, price = "", None, None
    if security is not None:
        symbol = p.as_str(security["instrument"].get("symbol"), f"{where}.instrument.symbol", nullable=True)
        if kind in UNIT_TYPES:
            amount = p.as_decimal(security.get("amount"), f"{where}.amount", nullable=True)
            if amount is not None and kind == "TRADE":
                # The sign follows the cash: a buy (cash out) receives units, a sale delivers them.
                amount = abs(amount) if activity == "buy" else -abs(amount)
            quantity = amount
            price = p.as_decimal(security.get("price"), f"{where}.price", nullable=True)
    if not description:
        description = f"{activity} {abs(quantity)} {symbol} @ {price}" if quantity is not None else kind
    return TransactionData(
        provider_transaction_id=ident,
        provider_account_id=account_id,
        posted_date=posted,
        transacted_at=when,
        amount=net,
        description=description,
        category=kind,
        pending=status == "PENDING",
        activity_type=activity,
        symbol=symbol,
        quantity=quantity,
        price=price,
        fees=fees if kind == "TRADE" else None,
    )
