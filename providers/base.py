"""The adapter protocol and the DTOs adapters return.

Conventions every adapter follows when it maps a vendor payload:
- amounts are `Decimal`, positive means money into the account;
- dates are `datetime.date`, timestamps are aware `datetime`s (UTC);
- `mask` is at most the last four characters of an account number;
- ids are the provider's own, as strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

TransactionsMode = Literal["window", "cursor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What an adapter can do; the handlers and interfaces read these flags."""

    accounts: bool = True
    transactions: bool = True
    holdings: bool = False
    # "window": the provider answers for a date range (demo, SimpleFIN);
    # "cursor": the provider returns changes since an opaque cursor (Plaid).
    transactions_mode: TransactionsMode = "window"
    # Window mode: `iter_transaction_pages` takes `known_spans` and marks spans
    # (see TransactionSpan), so that a re-sync can skip what did not change.
    transaction_spans: bool = False
    # The provider's data arrives as files the user imports (`parse_statement`), not by
    # syncing: the three syncs skip such a connection and say so.
    imports_files: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountData:
    provider_account_id: str
    name: str
    type: str = "other"
    subtype: str = ""
    mask: str = ""
    currency: str = "USD"
    balance: Decimal | None = None
    available_balance: Decimal | None = None
    balance_date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionData:
    provider_transaction_id: str
    provider_account_id: str
    posted_date: date
    amount: Decimal
    currency: str = "USD"
    description: str = ""
    payee: str = ""
    category: str = ""
    pending: bool = False
    transacted_at: datetime | None = None
    # The provider's id of the pending transaction this posted one replaces,
    # when the provider links them (Plaid, demo); empty when it does not.
    pending_transaction_id: str = ""
    # Investment activity, where the provider reports it (empty otherwise):
    # `activity_type` one of buy, sell, dividend, interest, fee, tax, deposit,
    # withdrawal, transfer, split, other; `quantity` signed (units received are
    # positive, units delivered negative); `price` per unit; `fees` charged on
    # this trade (a fee that is an activity of its own is a row of type fee).
    # `amount` stays the cash effect: a buy is negative.
    activity_type: str = ""
    symbol: str = ""
    quantity: Decimal | None = None
    price: Decimal | None = None
    fees: Decimal | None = None


def supersedes(known_pending: bool, pending: bool) -> bool:
    """Whether a later version of a transaction replaces the one taken so far (whose pending flag is given).

    The later version wins, except that a pending version never replaces a
    posted one: the same id may come back twice (in two pages, two window
    chunks), and once posted it stays posted.
    """
    return known_pending or not pending


def window_page(
    items: Iterable[TransactionData | RemovedTransaction], seen: set[str], start: date, end: date
) -> TransactionsResult:
    """One page of a fetch whose requests overlap the window (brokers filter by another date than the booking's).

    Each id is taken once (the first time it is seen, across the pages sharing
    `seen`); removals are kept whatever their date; rows booked outside
    [start, end] are left out.
    """
    transactions: list[TransactionData] = []
    removed: list[RemovedTransaction] = []
    for item in items:
        if item.provider_transaction_id in seen:
            continue
        seen.add(item.provider_transaction_id)
        if isinstance(item, RemovedTransaction):
            removed.append(item)
        elif start <= item.posted_date <= end:
            transactions.append(item)
    return TransactionsResult(transactions=transactions, removed=removed)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovedTransaction:
    provider_account_id: str
    provider_transaction_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionSpan:
    """Every row a window provider has for one account over [first, last], named by a digest of its raw data.

    A page that carries a span holds exactly the rows of that span, each dated
    within [first, last], each id once. The digest covers everything the
    adapter maps those rows from, so the same digest later means the same
    rows, mapped the same way. The sync stores the digests of what it applied;
    when a later fetch (given them as `known_spans`) meets one again, the page
    carries only the span's ids (`TransactionsResult.unchanged_ids`) and the
    adapter skips mapping its rows.
    """

    provider_account_id: str
    first: date
    last: date
    digest: str

    @property
    def key(self) -> tuple[str, date, date]:
        return (self.provider_account_id, self.first, self.last)


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldingData:
    provider_holding_id: str
    provider_account_id: str
    symbol: str = ""
    name: str = ""
    asset_type: str = ""
    quantity: Decimal = Decimal(0)
    price: Decimal | None = None
    cost_basis: Decimal | None = None
    market_value: Decimal | None = None
    currency: str = "USD"
    as_of: datetime | None = None
    # The security's CUSIP, where the provider reports it (Schwab).
    cusip: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountsResult:
    accounts: list[AccountData]
    # User-displayable, sanitised messages from a partly successful fetch.
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionsResult:
    """Transactions for a window, or changes since a cursor.

    Window mode: `transactions` is everything the provider has for
    `accounts_covered` within [start, end]; rows the database holds there and
    the provider no longer reports are removed by the handler.
    Cursor mode: `transactions` are added or modified rows, `removed` the ids
    the provider dropped, and `next_cursor` is saved with the data.
    """

    transactions: list[TransactionData]
    removed: list[RemovedTransaction] = field(default_factory=list)
    accounts_covered: list[str] = field(default_factory=list)
    # Balances observed alongside the transactions, if the provider sends them.
    accounts: list[AccountData] = field(default_factory=list)
    next_cursor: str | None = None
    warnings: list[str] = field(default_factory=list)
    # A page from `iter_transaction_pages` with `restart` set starts the update
    # over: the consumer discards every earlier page of the same call (rows,
    # removals, accounts, warnings, cursor) before taking this page's content.
    # A cursor provider sets it when the provider's data changed mid-pagination
    # and it fetches again from the cursor it started with (Plaid).
    restart: bool = False
    # Window mode, with Capabilities.transaction_spans: the page is one span's
    # rows. With `unchanged_ids` set, the span's digest is one of the
    # `known_spans` the fetch was given: `transactions` is empty and these are
    # the span's ids, whose rows the consumer already holds as they are.
    span: TransactionSpan | None = None
    unchanged_ids: list[str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldingsResult:
    holdings: list[HoldingData]
    # Balance of the account, when the provider reports it with the holdings.
    account: AccountData | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementTransactionData:
    """One transaction of an imported statement file, with the identity the file gives it.

    `transaction.provider_transaction_id` is the file's id (`fitid`); the import
    assigns the stored id (sync.apply.statements). A correction names the
    earlier transaction it replaces or deletes (`correct_fitid`, `correct_action`).
    """

    fitid: str
    transaction: TransactionData
    correct_fitid: str = ""
    correct_action: str = ""  # "", "REPLACE" or "DELETE"


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementData:
    """One statement of a file: its account (with balances), transactions and, for investments, positions."""

    account: AccountData
    transactions: list[StatementTransactionData] = field(default_factory=list)
    # A full snapshot of the account's positions, or None when the statement has no position list.
    holdings: list[HoldingData] | None = None
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementFileResult:
    """What a statement file holds: every statement it carries, and what was left out (warnings)."""

    statements: list[StatementData]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionSetup:
    """What `Provider.connect` produces: secrets to encrypt and plain config."""

    credentials: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialField:
    """One input a provider needs to connect, for the CLI, the API and the admin."""

    name: str
    help: str
    secret: bool = True
    required: bool = True
    # "text": a string; "integer": a whole number, given as a number or as digits.
    kind: Literal["text", "integer"] = "text"
    max_length: int = 4096
    # What an optional field is when left out, as a form shows it ("" when there is none to show).
    default: str = ""


class Provider:
    """Base class of adapters. Subclasses set the class attributes and the fetch methods.

    An adapter instance is built per sync from the connection's decrypted
    credentials and its plain config, and is used from one thread.
    """

    slug: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    # Inputs accepted by `connect`, in order.
    connect_fields: ClassVar[tuple[CredentialField, ...]] = ()
    # OAuth2 providers connect through a browser: `authorize_url` then `exchange_code`
    # (the connection service's authorize/callback), not through `connect`.
    oauth: ClassVar[bool] = False
    # Credentials a reconnect keeps from the old ones (e.g. a key the provider's account
    # ids are derived from), so that the same accounts keep the same ids.
    carried_over_credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        self.credentials = dict(credentials)
        self.config = dict(config)
        # Set by the sync core before a fetch: called with the whole new credentials when the
        # adapter changed them mid-sync (a rotated OAuth refresh token). It persists them at
        # once, in its own transaction, so that a sync failing later never loses them.
        self.on_credentials_changed: Callable[[dict[str, Any]], None] | None = None

    def credentials_changed(self) -> None:
        """Hand the adapter's current credentials to the sync core (see `on_credentials_changed`)."""
        if self.on_credentials_changed is not None:
            self.on_credentials_changed(dict(self.credentials))

    @classmethod
    def missing_settings(cls) -> list[str]:
        """The server settings this provider needs that are not set (empty: it can be offered)."""
        return []

    @classmethod
    def authorize_url(cls, state: str) -> str:
        """OAuth providers: the URL to send the user's browser to, carrying `state`."""
        raise NotImplementedError

    @classmethod
    def exchange_code(cls, code: str) -> ConnectionSetup:
        """OAuth providers: trade the callback's (decoded) `code` for credentials and config."""
        raise NotImplementedError

    @classmethod
    def connect(cls, options: Mapping[str, Any], *, wide_bounds: bool = False) -> ConnectionSetup:
        """Turn connect inputs into stored credentials and config (may call the provider).

        `options` hold only declared `connect_fields`, each a string or (for
        `kind="integer"`) a whole number, already bounded in length by the
        connection service. `wide_bounds` asks for the operator's bounds (the
        CLI) instead of the deployment's self-service limits (API, admin).
        A ProviderConfigError names the input it is about in `field`.
        """
        raise NotImplementedError

    def fetch_accounts(self) -> AccountsResult:
        raise NotImplementedError

    def fetch_transactions(
        self,
        *,
        start: date | None,
        end: date | None,
        account_ids: list[str] | None = None,
        cursor: str | None = None,
    ) -> TransactionsResult:
        """The whole answer as one result, for an adapter whose answer is one page (the demo).

        Window mode gets `start`/`end` (both inclusive); cursor mode gets
        `cursor`. An adapter that pages overrides `iter_transaction_pages`
        instead: the sync reads pages only, and merges them in its spool.
        """
        raise NotImplementedError

    def iter_transaction_pages(
        self,
        *,
        start: date | None,
        end: date | None,
        account_ids: list[str] | None = None,
        cursor: str | None = None,
    ) -> Iterator[TransactionsResult]:
        """`fetch_transactions` as pages, so that a sync need not hold every row at once.

        Pages apply in order: a later page's version of a transaction wins, except
        that a pending version never replaces a posted one (`supersedes`); a removal drops the
        versions of that id from earlier pages and its own page, and a version on
        a later page undoes the removal; `accounts` and `warnings` accumulate;
        `accounts_covered` and `next_cursor` are the last page's. A page with
        `restart` set discards every page before it (see TransactionsResult).
        The default is `fetch_transactions`' whole result as one page.

        An adapter with Capabilities.transaction_spans also takes `known_spans`
        ({TransactionSpan.key: digest} of what the consumer holds) and marks
        span pages (see TransactionSpan).
        """
        yield self.fetch_transactions(start=start, end=end, account_ids=account_ids, cursor=cursor)

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        raise NotImplementedError

    def parse_statement(self, content: bytes) -> StatementFileResult:
        """Read an imported file (Capabilities.imports_files); ProviderConfigError names what is wrong and where."""
        raise NotImplementedError

    def on_disconnect(self) -> dict[str, Any]:
        """Tell the provider the connection is no longer used (Plaid's /item/remove).

        Returns the credentials to keep stored (the default keeps them all; an
        adapter that revoked its token returns what is left). A ProviderError
        means the provider was not told: the connection is disconnected anyway.
        """
        return dict(self.credentials)

    def close(self) -> None:
        """Release network resources; the default has none."""
