"""The `ofx` provider ("Statement files"): OFX and QFX downloads, imported as files.

A connection of this provider has no credentials to give: at connect it gets a
random key of its own (stored encrypted like any credentials), with which the
account numbers of its files are hashed (HMAC-SHA256). The full number is never
stored, only that hash (the account's `provider_account_id`) and its last four
characters (`mask`): card files often carry the whole card number.

The file is read by the tolerant reader in `providers.ofx_parse` (why not a
library: see there); this module maps its elements:
- bank (`STMTRS`), card (`CCSTMTRS`) and investment (`INVSTMTRS`) statements,
  each one applied; a statement whose `STATUS` is an error is left out with a
  warning, and a file with nothing else is refused;
- the booking date is the first 8 digits of `DTPOSTED` (`DTTRADE`) as the bank
  wrote them, never moved by a time zone; `DTUSER` is the transaction time;
- amounts are exact Decimals (sign, leading zeros, `,` as the radix);
- `LEDGERBAL` is the balance at its `DTASOF`, `AVAILBAL` the available
  balance (left out for cards when 0.00); investments: positions
  (`INVPOSLIST` joined to `SECLIST`), cash (`INVBAL/AVAILCASH`, also as a
  `CUR:USD` position) and transactions in the investment fields (activity
  type, symbol: the ticker, else the CUSIP, signed quantity, price, fees) with
  their cash amount; see `_activity` for the mapping of each aggregate. A
  REINVEST is a buy; its income side is the INCOME the file gives for it (same
  security, income type and amount) or, when there is none, a row of its own
  (FITID + `:income`), so that income and buy net to no cash, as they do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.base import (
    AccountData,
    Capabilities,
    ConnectionSetup,
    HoldingData,
    Provider,
    StatementData,
    StatementFileResult,
    StatementTransactionData,
    TransactionData,
)
from providers.errors import ProviderConfigError, ProviderCredentialsInvalid
from providers.ofx_parse import Element, OFXSyntaxError, parse
from providers.registry import register

_AMOUNT = re.compile(r"^[+-]?(\d+[.,]?\d*|[.,]\d+)$")
_DATETIME = re.compile(
    r"^(?P<date>\d{8})(?P<time>\d{4}(?:\d{2})?)?(?:\.\d{1,6})?"
    r"(?:\s*\[\s*(?P<offset>[+-]?(?:\d{1,2}(?:[.:]\d{1,2})?)?)\s*(?::\s*(?P<zone>[A-Za-z]{1,8}))?\s*\])?$"
)
# Zones some banks send without hours (`[-:EST]`, Interactive Brokers).
_ZONES = {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "GMT": 0, "UTC": 0}
BANK_TYPES = {
    "CHECKING": ("depository", "checking", "Checking"),
    "SAVINGS": ("depository", "savings", "Savings"),
    "MONEYMRKT": ("depository", "money market", "Money market"),
    "CD": ("depository", "cd", "Certificate of deposit"),
    "CREDITLINE": ("credit", "line of credit", "Line of credit"),
}
POSITION_TYPES = {
    "POSSTOCK": "equity",
    "POSMF": "mutual fund",
    "POSOPT": "option",
    "POSDEBT": "fixed income",
    "POSOTHER": "other",
}
# Investment transactions: the element and how it reads in a description.
INVESTMENT_LABELS = {
    "BUYSTOCK": "Buy",
    "BUYMF": "Buy",
    "BUYDEBT": "Buy",
    "BUYOPT": "Buy",
    "BUYOTHER": "Buy",
    "SELLSTOCK": "Sell",
    "SELLMF": "Sell",
    "SELLDEBT": "Sell",
    "SELLOPT": "Sell",
    "SELLOTHER": "Sell",
    "CLOSUREOPT": "Option closure",
    "INCOME": "Income",
    "REINVEST": "Reinvest",
    "RETOFCAP": "Return of capital",
    "INVEXPENSE": "Expense",
    "MARGININTEREST": "Margin interest",
    "SPLIT": "Split",
    "TRANSFER": "Transfer",
    "JRNLFUND": "Journal (cash)",
    "JRNLSEC": "Journal (securities)",
}
INCOME_LABELS = {
    "DIV": "Dividend",
    "INTEREST": "Interest",
    "CGLONG": "Capital gain (long)",
    "CGSHORT": "Capital gain (short)",
    "MISC": "Income",
}
# FinSync activity types of investment transactions. INCOME and REINVEST go by INCOMETYPE:
# a capital gains distribution (CGLONG, CGSHORT) is a fund's cash distribution per unit held,
# paid and taxed as a dividend (US 1099-DIV), and Alpaca's DIVCGL/DIVCGS are dividends too;
# its INCOMETYPE stays in the category (`INCOME:CGLONG`) to tell it from an ordinary dividend.
INCOME_TYPES = {"DIV": "dividend", "INTEREST": "interest", "CGLONG": "dividend", "CGSHORT": "dividend"}
ACTIVITY_TYPES = {
    "RETOFCAP": "other",  # cash back out of the cost basis: neither income nor a sale
    "INVEXPENSE": "fee",
    "MARGININTEREST": "interest",
    "SPLIT": "split",
    "TRANSFER": "transfer",
    "JRNLFUND": "transfer",
    "JRNLSEC": "transfer",
    "CLOSUREOPT": "other",  # exercise, assignment or expiry: no cash and no direction given
}
# INVBANKTRAN (cash activity) by TRNTYPE; the cash-movement types read their direction from
# the sign of TRNAMT (TRNTYPE is only a label: a DEBIT with a positive amount exists).
BANK_ACTIVITY_TYPES = {"INT": "interest", "DIV": "dividend", "FEE": "fee", "SRVCHG": "fee", "XFER": "transfer"}
CASH_MOVEMENTS = frozenset(
    {"CREDIT", "DEBIT", "DEP", "ATM", "POS", "CHECK", "PAYMENT", "CASH", "DIRECTDEP", "DIRECTDEBIT", "REPEATPMT"}
)
TRADE_FEES = ("COMMISSION", "FEES", "TAXES", "LOAD")


def _where(element: Element) -> str:
    return f"line {element.line}: <{element.name}>"


def amount(element: Element, name: str, *, required: bool = True) -> Decimal | None:
    """The exact Decimal of the data element `name`: optional sign, leading zeros, `.` or `,` as the radix."""
    raw = element.text(name).replace(" ", "")
    if not raw:
        if required:
            raise ProviderConfigError(f"{_where(element)} has no <{name}>")
        return None
    if not _AMOUNT.match(raw):
        raise ProviderConfigError(f"{_where(element.find(name))} {raw[:40]!r} is not an amount")
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ProviderConfigError(f"{_where(element.find(name))} {raw[:40]!r} is not an amount") from None


def booking_date(element: Element, name: str) -> date:
    """The date as the bank wrote it: the first 8 digits, never shifted by the time zone that may follow."""
    raw = element.text(name)
    if not raw:
        raise ProviderConfigError(f"{_where(element)} has no <{name}>")
    try:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        raise ProviderConfigError(f"{_where(element.find(name))} {raw[:40]!r} is not a date") from None


def timestamp(element: Element, name: str) -> datetime | None:
    """The full OFX date-time as an aware UTC datetime (for ordering), or None when absent.

    `YYYYMMDD[HHMM[SS][.XXX]][[offset][:zone]]`; the offset may carry minutes
    (`[+5.30:IST]`) or be missing with a known zone (`[-:EST]`); none means GMT.
    """
    raw = element.text(name)
    if not raw:
        return None
    match = _DATETIME.match(raw)
    if match is None:
        raise ProviderConfigError(f"{_where(element.find(name))} {raw[:40]!r} is not a date")
    day = booking_date(element, name)
    clock = (match.group("time") or "").ljust(6, "0")
    offset = _offset(match.group("offset"), match.group("zone"))
    try:
        local = datetime(day.year, day.month, day.day, int(clock[0:2]), int(clock[2:4]), int(clock[4:6]))
    except ValueError:
        raise ProviderConfigError(f"{_where(element.find(name))} {raw[:40]!r} is not a time") from None
    return (local - offset).replace(tzinfo=UTC)


def _offset(offset: str | None, zone: str | None) -> timedelta:
    text = (offset or "").strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if not digits:
        return timedelta(hours=_ZONES.get((zone or "").upper(), 0))
    hours, _, minutes = digits.replace(":", ".").partition(".")
    return sign * timedelta(hours=int(hours), minutes=int(minutes or 0))


def _mask(account_id: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", account_id)[-4:]


def _name(element: Element) -> str:
    name = element.text("NAME")
    payee = element.find("PAYEE")
    if not name and payee is not None:
        name = payee.text("NAME")
    return name


@register
class StatementFileProvider(Provider):
    """OFX 1.x/2.x and QFX statement files (bank, credit card, brokerage), imported, never synced."""

    slug = "ofx"
    display_name = "Statement files"
    capabilities = Capabilities(accounts=False, transactions=False, holdings=False, imports_files=True)
    connect_fields = ()

    @classmethod
    def connect(cls, options: Mapping[str, Any]) -> ConnectionSetup:
        """Nothing to give: the connection gets a random key to hash its files' account numbers with."""
        unexpected = sorted(key for key, value in options.items() if value not in (None, ""))
        if unexpected:
            names = ", ".join(unexpected)
            raise ProviderConfigError(f"the Statement files provider takes no connect inputs (got {names})")
        return ConnectionSetup(credentials={"account_key": secrets.token_hex(32)})

    def _account_id(self, *parts: str) -> str:
        key = self.credentials.get("account_key")
        if not isinstance(key, str) or not key:
            raise ProviderCredentialsInvalid("the statement-file connection has no account key; connect again")
        message = "\x1f".join(parts).encode("utf-8")
        return "ofx:" + hmac.new(key.encode("ascii"), message, hashlib.sha256).hexdigest()

    def parse_statement(self, content: bytes) -> StatementFileResult:
        """Read an OFX/QFX file: every statement in it; ProviderConfigError names what is wrong and where."""
        try:
            ofx = parse(content)
        except OFXSyntaxError as error:
            raise ProviderConfigError(str(error)) from None
        _check_signon(ofx)
        reader = _FileReader(self, ofx)
        return reader.read()


def _check_signon(ofx: Element) -> None:
    status = ofx.path("SIGNONMSGSRSV1", "SONRS", "STATUS")
    if status is not None and _is_error(status):
        raise ProviderConfigError(f"{_where(status)} the institution refused the download: {_status_text(status)}")


def _is_error(status: Element) -> bool:
    return status.text("CODE") not in ("", "0") or status.text("SEVERITY").upper() == "ERROR"


def _status_text(status: Element) -> str:
    message = status.text("MESSAGE")
    return f"code {status.text('CODE') or '?'}" + (f" ({message[:200]})" if message else "")


class _FileReader:
    """Maps one parsed file to statements."""

    def __init__(self, provider: StatementFileProvider, ofx: Element) -> None:
        self.provider = provider
        self.ofx = ofx
        self.warnings: list[str] = []
        self.org = ofx.text("ORG") or (ofx.path("SIGNONMSGSRSV1", "SONRS", "FI") or Element("FI", 0)).text("ORG")
        self.securities: dict[tuple[str, str], tuple[str, str]] = {}
        for info in ofx.iter("SECINFO"):
            secid = info.find("SECID")
            if secid is not None:
                key = (secid.text("UNIQUEIDTYPE").upper(), secid.text("UNIQUEID"))
                self.securities[key] = (info.text("TICKER"), info.text("SECNAME"))

    def read(self) -> StatementFileResult:
        statements: list[StatementData] = []
        found = 0
        for wrapper, body, read in (
            ("STMTTRNRS", "STMTRS", self._bank),
            ("CCSTMTTRNRS", "CCSTMTRS", self._card),
            ("INVSTMTTRNRS", "INVSTMTRS", self._investment),
        ):
            for response in self.ofx.iter(wrapper):
                found += 1
                status = response.find("STATUS")
                statement = response.find(body)
                if status is not None and _is_error(status):
                    self.warnings.append(
                        f"{_where(response)}: statement refused, the institution reported an error: "
                        f"{_status_text(status)}"
                    )
                    continue
                if statement is None:
                    self.warnings.append(f"{_where(response)}: no <{body}> in it; nothing to import")
                    continue
                statements.append(read(statement))
        if not statements:
            if found:
                raise ProviderConfigError("no statement could be imported: " + "; ".join(self.warnings))
            raise ProviderConfigError(
                f"{_where(self.ofx)} holds no bank, credit card or investment statement "
                "(no <STMTRS>, <CCSTMTRS> or <INVSTMTRS>)"
            )
        return StatementFileResult(statements=statements, warnings=self.warnings)

    # --- accounts ------------------------------------------------------------------------------

    def _required(self, element: Element, parent: Element, name: str) -> str:
        value = element.text(name)
        if not value:
            raise ProviderConfigError(f"{_where(element)} has no <{name}> (in <{parent.name}> at line {parent.line})")
        return value

    def _label(self, kind: str, mask: str) -> str:
        label = f"{self.org} {kind}" if self.org else kind
        return f"{label} {mask}" if mask else label

    def _balances(self, statement: Element, *, card: bool) -> dict:
        ledger, available = statement.find("LEDGERBAL"), statement.find("AVAILBAL")
        values: dict[str, Any] = {}
        if ledger is not None:
            values["balance"] = amount(ledger, "BALAMT", required=False)
            values["balance_date"] = timestamp(ledger, "DTASOF")
        if available is not None:
            avail = amount(available, "BALAMT", required=False)
            # A card's AVAILBAL of 0.00 means "not given" (Chase), not "no credit left".
            if not (card and avail is not None and avail == 0):
                values["available_balance"] = avail
        return values

    def _bank(self, statement: Element) -> StatementData:
        source = statement.find("BANKACCTFROM")
        if source is None:
            raise ProviderConfigError(f"{_where(statement)} has no <BANKACCTFROM>")
        bank_id = self._required(source, statement, "BANKID")
        account_id = self._required(source, statement, "ACCTID")
        kind = BANK_TYPES.get(source.text("ACCTTYPE").upper(), ("depository", "", "Bank account"))
        mask = _mask(account_id)
        account = AccountData(
            provider_account_id=self.provider._account_id("bank", bank_id.upper(), account_id),
            name=self._label(kind[2], mask),
            type=kind[0],
            subtype=kind[1],
            mask=mask,
            currency=statement.text("CURDEF") or "USD",
            **self._balances(statement, card=False),
        )
        return self._with_transactions(account, statement)

    def _card(self, statement: Element) -> StatementData:
        source = statement.find("CCACCTFROM")
        if source is None:
            raise ProviderConfigError(f"{_where(statement)} has no <CCACCTFROM>")
        account_id = self._required(source, statement, "ACCTID")
        mask = _mask(account_id)
        account = AccountData(
            provider_account_id=self.provider._account_id("card", account_id),
            name=self._label("Credit card", mask),
            type="credit",
            subtype="credit card",
            mask=mask,
            currency=statement.text("CURDEF") or "USD",
            **self._balances(statement, card=True),
        )
        return self._with_transactions(account, statement)

    # --- bank and card transactions ------------------------------------------------------------

    def _with_transactions(self, account: AccountData, statement: Element) -> StatementData:
        listing = statement.find("BANKTRANLIST")
        rows = []
        start = end = None
        if listing is not None:
            rows = [self._bank_transaction(row, account) for row in listing.findall("STMTTRN")]
            start = booking_date(listing, "DTSTART") if listing.text("DTSTART") else None
            end = booking_date(listing, "DTEND") if listing.text("DTEND") else None
        pending = statement.find("BANKTRANLISTP")
        if pending is not None and pending.children:
            self.warnings.append(f"{_where(pending)}: pending transactions are not imported")
        return StatementData(account=account, transactions=rows, start=start, end=end)

    def _bank_transaction(self, row: Element, account: AccountData) -> StatementTransactionData:
        fitid = row.text("FITID")
        name, memo = _name(row), row.text("MEMO")
        posted = booking_date(row, "DTPOSTED")
        value = amount(row, "TRNAMT")
        if not fitid:
            # No id at all: the content stands in for it (same date, amount and text = same row).
            digest = hashlib.sha256(f"{posted}|{value}|{name}|{memo}".encode()).hexdigest()[:24]
            fitid = f"nofitid-{digest}"
            self.warnings.append(f"{_where(row)} has no <FITID>; matched by date, amount and text instead")
        transacted_at = None
        if row.text("DTUSER"):
            try:
                transacted_at = timestamp(row, "DTUSER")
            except ProviderConfigError as error:
                self.warnings.append(f"{error.message}; the transaction time is left out")
        description = " / ".join(part for part in (name, memo) if part) or row.text("TRNTYPE")
        data = TransactionData(
            provider_transaction_id=fitid,
            provider_account_id=account.provider_account_id,
            posted_date=posted,
            amount=value,
            currency=account.currency,
            description=description,
            payee=name,
            category=row.text("TRNTYPE").upper(),
            transacted_at=transacted_at,
        )
        return StatementTransactionData(
            fitid=fitid,
            transaction=data,
            correct_fitid=row.text("CORRECTFITID"),
            correct_action=row.text("CORRECTACTION").upper(),
        )

    # --- investments ---------------------------------------------------------------------------

    def _investment(self, statement: Element) -> StatementData:
        source = statement.find("INVACCTFROM")
        if source is None:
            raise ProviderConfigError(f"{_where(statement)} has no <INVACCTFROM>")
        broker_id = self._required(source, statement, "BROKERID")
        account_id = self._required(source, statement, "ACCTID")
        as_of = timestamp(statement, "DTASOF")
        currency = statement.text("CURDEF") or "USD"
        holdings = self._positions(statement, as_of, currency)
        cash = None
        balances = statement.find("INVBAL")
        if balances is not None:
            cash = amount(balances, "AVAILCASH", required=False)
        if cash is not None and holdings is not None:
            holdings.append(
                HoldingData(
                    provider_holding_id=f"cash:{currency.upper()}",
                    provider_account_id="",
                    symbol=f"CUR:{currency.upper()}",
                    name="Cash",
                    asset_type="cash",
                    quantity=cash,
                    price=Decimal(1),
                    market_value=cash,
                    currency=currency,
                    as_of=as_of,
                )
            )
        total = None
        if holdings is not None:
            total = sum((h.market_value or Decimal(0) for h in holdings), Decimal(0))
        elif cash is not None:
            total = cash
        mask = _mask(account_id)
        account = AccountData(
            provider_account_id=self.provider._account_id("invest", broker_id.lower(), account_id),
            name=self._label("Brokerage", mask),
            type="investment",
            subtype="brokerage",
            mask=mask,
            currency=currency,
            balance=total,
            available_balance=cash,
            balance_date=as_of,
        )
        listing = statement.find("INVTRANLIST")
        rows: list[StatementTransactionData] = []
        start = end = None
        if listing is not None:
            rows = self._investment_transactions(listing, account)
            start = booking_date(listing, "DTSTART") if listing.text("DTSTART") else None
            end = booking_date(listing, "DTEND") if listing.text("DTEND") else None
        holdings = [_owned(h, account.provider_account_id) for h in holdings] if holdings is not None else None
        return StatementData(account=account, transactions=rows, holdings=holdings, start=start, end=end)

    def _security(self, element: Element) -> tuple[str, str, str]:
        """(id, ticker, name) of the element's SECID, joined to the file's SECLIST."""
        secid = element.find("SECID")
        if secid is None:
            return "", "", ""
        key = (secid.text("UNIQUEIDTYPE").upper(), secid.text("UNIQUEID"))
        ticker, name = self.securities.get(key, ("", ""))
        return f"{key[0]}:{key[1]}", ticker, name

    def _symbol(self, element: Element) -> str:
        """The ticker of the element's security, else its CUSIP (or other UNIQUEID): a trade is never symbol-less."""
        _, ticker, _ = self._security(element)
        secid = element.find("SECID")
        return ticker or (secid.text("UNIQUEID") if secid is not None else "")

    def _positions(self, statement: Element, as_of: datetime | None, currency: str) -> list[HoldingData] | None:
        listing = statement.find("INVPOSLIST")
        if listing is None:
            return None
        holdings: list[HoldingData] = []
        seen: dict[str, int] = {}
        for position in listing.children:
            inner = position.find("INVPOS")
            if inner is None:
                continue
            security, ticker, name = self._security(inner)
            if not security:
                raise ProviderConfigError(f"{_where(inner)} has no <SECID>")
            short = inner.text("POSTYPE").upper() == "SHORT"
            units = amount(inner, "UNITS")
            value = amount(inner, "MKTVAL", required=False)
            if short:  # a short position is negative, whatever sign the institution gave UNITS
                units = -abs(units)
                value = -abs(value) if value is not None else None
            # The same security twice (cash and margin, long and short): told apart by where and how it is held.
            seen[security] = seen.get(security, 0) + 1
            holding_id = security
            if seen[security] > 1:
                holding_id = f"{security}:{inner.text('HELDINACCT').upper()}:{inner.text('POSTYPE').upper()}"
            holdings.append(
                HoldingData(
                    provider_holding_id=holding_id,
                    provider_account_id="",
                    symbol=ticker,
                    name=name or ticker or security,
                    asset_type=POSITION_TYPES.get(position.name, "other"),
                    quantity=units,
                    price=amount(inner, "UNITPRICE", required=False),
                    cost_basis=amount(inner, "AVGCOSTBASIS", required=False),
                    market_value=value,
                    currency=currency,
                    as_of=as_of,
                )
            )
        return holdings

    def _investment_transactions(self, listing: Element, account: AccountData) -> list[StatementTransactionData]:
        """Every transaction of an INVTRANLIST, with the income side of each unpaired REINVEST (see _reinvested)."""
        rows: list[StatementTransactionData] = []
        incomes: dict[tuple, int] = {}
        for child in listing.findall("INCOME"):
            key = self._income_key(child)
            incomes[key] = incomes.get(key, 0) + 1
        for child in listing.children:
            if child.value is not None:  # DTSTART, DTEND: data elements, not transactions
                continue
            if child.name == "INVBANKTRAN":
                inner = child.find("STMTTRN")
                if inner is None:
                    raise ProviderConfigError(f"{_where(child)} has no <STMTTRN>")
                rows.append(self._cash_activity(inner, account))
                continue
            row = self._investment_transaction(child, account)
            if row is None:
                continue
            rows.append(row)
            if child.name == "REINVEST":
                key = self._income_key(child)
                if incomes.get(key):
                    incomes[key] -= 1  # the file gives the income side as an INCOME of its own
                else:
                    rows.append(self._reinvested(child, row))
        return rows

    def _income_key(self, element: Element) -> tuple:
        """What pairs a REINVEST with the INCOME that paid it: security, income type and |TOTAL|."""
        total = amount(element, "TOTAL", required=False)
        security, _, _ = self._security(element)
        return (security, element.text("INCOMETYPE").upper(), abs(total) if total is not None else None)

    def _cash_activity(self, row: Element, account: AccountData) -> StatementTransactionData:
        """An INVBANKTRAN: the bank row, typed by TRNTYPE (deposit or withdrawal by the sign of TRNAMT)."""
        mapped = self._bank_transaction(row, account)
        data = mapped.transaction
        trntype = row.text("TRNTYPE").upper()
        kind = BANK_ACTIVITY_TYPES.get(trntype, "other")
        if trntype in CASH_MOVEMENTS:
            kind = "deposit" if data.amount > 0 else "withdrawal"
        return replace(mapped, transaction=replace(data, activity_type=kind))

    def _reinvested(self, element: Element, buy: StatementTransactionData) -> StatementTransactionData:
        """The income side of a REINVEST the file gives no INCOME for: the income, paid in, then spent on the buy."""
        income_type = element.text("INCOMETYPE").upper()
        label = INCOME_LABELS.get(income_type, "Income")
        data = buy.transaction
        fitid = f"{buy.fitid}:income"
        income = replace(
            data,
            provider_transaction_id=fitid,
            amount=-data.amount,
            description=f"{label} {data.payee or data.symbol} (reinvested)",
            activity_type=INCOME_TYPES.get(income_type, "other"),
            quantity=None,
            price=None,
            fees=None,
        )
        return StatementTransactionData(fitid=fitid, transaction=income)

    def _investment_transaction(self, element: Element, account: AccountData) -> StatementTransactionData | None:
        """One investment transaction in the investment fields; an unknown kind is "other", never an error."""
        kind = element.name
        known = kind in INVESTMENT_LABELS
        buy, sell = element.find("INVBUY"), element.find("INVSELL")
        inner = buy or sell or element
        trade = inner.find("INVTRAN") or element.find("INVTRAN")
        if trade is None:
            if not known:
                self.warnings.append(f"{_where(element)} is not an investment transaction FinSync knows; skipped")
                return None
            raise ProviderConfigError(f"{_where(element)} has no <INVTRAN>")
        fitid = self._required(trade, element, "FITID")
        _, ticker, name = self._security(inner)
        symbol = self._symbol(inner)
        units = amount(inner, "UNITS", required=False)
        price = amount(inner, "UNITPRICE", required=False)
        income_type = inner.text("INCOMETYPE").upper()
        category = f"{kind}:{income_type}" if kind in ("INCOME", "REINVEST") and income_type else kind
        activity, quantity, fees, cash = _activity(element, inner, units, price)
        description = _description(kind, income_type, units, price, ticker or name or symbol, trade.text("MEMO"))
        data = TransactionData(
            provider_transaction_id=fitid,
            provider_account_id=account.provider_account_id,
            posted_date=booking_date(trade, "DTTRADE"),
            amount=cash if cash is not None else Decimal(0),
            currency=account.currency,
            description=description,
            payee=ticker or name,
            category=category,
            transacted_at=timestamp(trade, "DTTRADE"),
            activity_type=activity,
            symbol=symbol,
            quantity=quantity,
            price=price,
            fees=fees,
        )
        return StatementTransactionData(fitid=fitid, transaction=data)


def _activity(
    element: Element, inner: Element, units: Decimal | None, price: Decimal | None
) -> tuple[str, Decimal | None, Decimal | None, Decimal | None]:
    """(activity type, signed quantity, fees, cash amount) of an investment transaction."""
    kind = element.name
    sell = inner.name == "INVSELL"
    cash = amount(inner, "TOTAL", required=False)
    if inner.name in ("INVBUY", "INVSELL") or kind == "REINVEST":
        # Units received are positive, delivered negative, whatever sign the file gave UNITS
        # (SELLSHORT is a sell, BUYTOCOVER a buy); fees are those charged on the trade.
        quantity = (-1 if sell else 1) * abs(units) if units is not None else None
        given = [f for f in (amount(inner, name, required=False) for name in TRADE_FEES) if f is not None]
        fees = sum(given, Decimal(0)) if given else None
        if cash is None and quantity is not None and price is not None:
            cash = -(quantity * price) - (fees or Decimal(0))  # TOTAL by its definition
        if kind == "REINVEST" and cash is not None:
            # Institutions differ on the sign of REINVEST's TOTAL: the buy side always spends it.
            cash = -abs(cash)
        return ("sell" if sell else "buy"), quantity, fees, cash
    if kind == "INCOME":
        return INCOME_TYPES.get(inner.text("INCOMETYPE").upper(), "other"), None, None, cash
    if kind == "SPLIT":
        old, new = amount(element, "OLDUNITS", required=False), amount(element, "NEWUNITS", required=False)
        quantity = new - old if old is not None and new is not None else None
        return "split", quantity, None, amount(element, "FRACCASH", required=False)  # cash in lieu of fractions
    if kind == "TRANSFER":
        action = element.text("TFERACTION").upper()
        quantity = units
        if units is not None and action in ("IN", "OUT"):
            quantity = abs(units) if action == "IN" else -abs(units)
        return "transfer", quantity, None, cash
    if kind in ("JRNLFUND", "JRNLSEC"):
        # Between sub-accounts (cash, margin, short) of this same account: no units or cash
        # come into or go out of the account, so the quantity stays empty and the amount is 0.
        return "transfer", None, None, None
    return ACTIVITY_TYPES.get(kind, "other"), None, None, cash


def _description(
    kind: str, income_type: str, units: Decimal | None, price: Decimal | None, security: str, memo: str
) -> str:
    label = INVESTMENT_LABELS.get(kind, kind.title())
    if kind == "INCOME":
        label = INCOME_LABELS.get(income_type, label)
    elif kind == "REINVEST":
        label = f"Reinvest {INCOME_LABELS.get(income_type, 'income').lower()}"
    parts = [label]
    if units is not None and kind != "INCOME":
        parts.append(f"{abs(units).normalize():f}")
    if security:
        parts.append(security)
    if price is not None and units is not None:
        parts.append(f"@ {price}")
    return " ".join(parts) + (f" / {memo}" if memo else "")


def _owned(holding: HoldingData, provider_account_id: str) -> HoldingData:
    return replace(holding, provider_account_id=provider_account_id)
