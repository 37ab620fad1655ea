"""The `demo` provider: deterministic synthetic bank and brokerage data, no network.

The data is a pure function of the connection's config (seed, sizes, history
start) and of the day it is asked on (`as_of`, today by default), so:
- the same question always gets the same answer (idempotent re-syncs);
- as days pass, recent transactions go from pending (id `pend-…`) to posted
  (a new id `txn-…` linking back with `pending_transaction_id`), and a few
  pending authorisation holds vanish without posting;
- sizes scale for benchmarks (`transactions_per_account=10000`).

Config keys: `seed`, `accounts`, `transactions_per_account`, `history_days`,
`history_start` (ISO date, fixed at connect time), `as_of` (ISO date, a clock
for tests and demos).
"""

from __future__ import annotations

import functools
import math
import random
import secrets
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from providers.base import (
    AccountData,
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    CredentialField,
    HoldingData,
    HoldingsResult,
    Provider,
    TransactionData,
    TransactionsResult,
)
from providers.errors import ProviderConfigError, ProviderCredentialsInvalid
from providers.registry import register

PENDING_DAYS = 2  # a transaction stays pending this many days after it occurs
HOLD_RATE = 0.05  # share of pending transactions that vanish instead of posting
CENT = Decimal("0.01")
SETTLED_BLOCK_DAYS = 30  # settled history is summed in blocks this long, each computed once per process

# (type, subtype, display name) cycled over the accounts of a connection.
ACCOUNT_KINDS = (
    ("depository", "checking", "Everyday Checking"),
    ("credit", "credit card", "Rewards Visa"),
    ("investment", "brokerage", "Brokerage"),
    ("depository", "savings", "High-Yield Savings"),
)
MERCHANTS = {
    "checking": (
        ("Corner Grocery", "groceries"),
        ("City Utilities", "utilities"),
        ("Metro Transit", "transport"),
        ("Blue Bottle Cafe", "dining"),
        ("Pharmacy Plus", "health"),
    ),
    "credit card": (
        ("Online Books", "shopping"),
        ("Fuel Stop", "transport"),
        ("Streaming Co", "entertainment"),
        ("Bistro 21", "dining"),
        ("Hardware Depot", "home"),
    ),
    "brokerage": (("Dividend VTI", "income"), ("Dividend BND", "income"), ("Account fee", "fees")),
    "savings": (("Interest", "income"), ("Transfer from checking", "transfer")),
}
SECURITIES = (
    ("VTI", "Vanguard Total Stock Market ETF", "etf", Decimal("240.00")),
    ("AAPL", "Apple Inc.", "equity", Decimal("190.00")),
    ("BND", "Vanguard Total Bond Market ETF", "etf", Decimal("72.00")),
    ("MSFT", "Microsoft Corp.", "equity", Decimal("410.00")),
    ("CUR:USD", "US Dollar", "cash", Decimal("1.00")),
)


def _int_option(options: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProviderConfigError(f"{name} must be a whole number", field=name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ProviderConfigError(f"{name} must be a whole number", field=name) from None
    if not low <= number <= high:
        raise ProviderConfigError(f"{name} must be between {low} and {high}", field=name)
    return number


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# A demo connection's options when left out (connect fields show them as their defaults).
DEFAULTS = {"seed": 42, "accounts": 3, "transactions_per_account": 90, "history_days": 120}


@register
class DemoProvider(Provider):
    """Synthetic checking, credit card, brokerage and savings accounts."""

    slug = "demo"
    display_name = "Demo bank (synthetic data)"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=True)
    connect_fields = (
        CredentialField(
            name="seed",
            help="Seed of the synthetic data",
            secret=False,
            required=False,
            kind="integer",
            max_length=40,
            default=str(DEFAULTS["seed"]),
        ),
        CredentialField(
            name="accounts",
            help="Number of accounts (1-10 through the API and admin, 1-1000 from the CLI)",
            secret=False,
            required=False,
            kind="integer",
            max_length=40,
            default=str(DEFAULTS["accounts"]),
        ),
        CredentialField(
            name="transactions_per_account",
            help="Transactions per account over the history (all accounts together at most 20,000 through the "
            "API and admin; 0-10,000,000 per account from the CLI)",
            secret=False,
            required=False,
            kind="integer",
            max_length=40,
            default=str(DEFAULTS["transactions_per_account"]),
        ),
        CredentialField(
            name="history_days",
            help="Days of history (1-3650)",
            secret=False,
            required=False,
            kind="integer",
            max_length=40,
            default=str(DEFAULTS["history_days"]),
        ),
    )

    @classmethod
    def connect(cls, options: Mapping[str, Any], *, wide_bounds: bool = False) -> ConnectionSetup:
        """The demo's config from its options; without `wide_bounds` (API, admin) the deployment's caps apply.

        FINSYNC_DEMO_MAX_ACCOUNTS and FINSYNC_DEMO_MAX_TRANSACTIONS (accounts x
        transactions per account) keep a self-service demo connection from
        filling the disk; an operator's `manage.py connect demo` keeps the wide
        bounds, for benchmarks.
        """
        history_days = _int_option(options, "history_days", DEFAULTS["history_days"], 1, 3650)
        max_accounts = 1000 if wide_bounds else _limit("FINSYNC_DEMO_MAX_ACCOUNTS", 10)
        accounts = _int_option(options, "accounts", DEFAULTS["accounts"], 1, max_accounts)
        per_account = _int_option(
            options, "transactions_per_account", DEFAULTS["transactions_per_account"], 0, 10_000_000
        )
        if not wide_bounds:
            total = _limit("FINSYNC_DEMO_MAX_TRANSACTIONS", 20_000)
            if accounts * per_account > total:
                raise ProviderConfigError(
                    f"transactions_per_account x accounts must be at most {total} (here {per_account} x {accounts})",
                    field="transactions_per_account",
                )
        config = {
            "seed": _int_option(options, "seed", DEFAULTS["seed"], 0, 2**31 - 1),
            "accounts": accounts,
            "transactions_per_account": per_account,
            "history_days": history_days,
            "history_start": (datetime.now(UTC).date() - timedelta(days=history_days - 1)).isoformat(),
        }
        # The demo needs no secret, but it gets a token like any provider so the
        # encrypted-credentials path is exercised end to end.
        return ConnectionSetup(credentials={"token": f"demo-{secrets.token_urlsafe(16)}"}, config=config)

    # --- configuration -----------------------------------------------------

    def _setting(self, name: str, default: int) -> int:
        return int(self.config.get(name, default))

    @property
    def seed(self) -> int:
        return self._setting("seed", 42)

    @property
    def as_of(self) -> date:
        value = self.config.get("as_of")
        return date.fromisoformat(value) if value else datetime.now(UTC).date()

    @property
    def history_start(self) -> date:
        value = self.config.get("history_start")
        if value:
            return date.fromisoformat(value)
        return self.as_of - timedelta(days=self._setting("history_days", 120) - 1)

    def _check_credentials(self) -> None:
        token = self.credentials.get("token")
        if not isinstance(token, str) or not token.startswith("demo-"):
            raise ProviderCredentialsInvalid("the demo connection has no valid token")

    def _account_ids(self) -> list[str]:
        return [f"demo-acct-{index + 1:04d}" for index in range(self._setting("accounts", 3))]

    @staticmethod
    def _kind(account_id: str) -> tuple[str, str, str]:
        index = int(account_id.rsplit("-", 1)[1]) - 1
        return ACCOUNT_KINDS[index % len(ACCOUNT_KINDS)]

    # --- generation ----------------------------------------------------------

    def _occurrences(
        self, account_id: str, first: date, last: date
    ) -> Iterator[tuple[date, int, Decimal, str, str, random.Random]]:
        """Every transaction that occurs on days first..last: (day, k, amount, payee, category, rng)."""
        per_day = self._setting("transactions_per_account", 90) / self._setting("history_days", 120)
        whole, fraction = int(per_day), per_day - int(per_day)
        _, subtype, _ = self._kind(account_id)
        merchants = MERCHANTS[subtype]
        day = max(first, self.history_start)
        while day <= last:
            rng = random.Random(f"{self.seed}:{account_id}:{day.isoformat()}")
            count = whole + (1 if rng.random() < fraction else 0)
            for k in range(count):
                payee, category = merchants[rng.randrange(len(merchants))]
                cents = rng.randint(300, 25_000)
                inflow = category in ("income", "transfer") or (subtype == "checking" and rng.random() < 0.08)
                if inflow and category not in ("income", "transfer"):
                    payee, category, cents = "Payroll ACME Corp", "income", rng.randint(150_000, 400_000)
                amount = (Decimal(cents) * CENT) if inflow else -(Decimal(cents) * CENT)
                yield day, k, amount, payee, category, rng
            day += timedelta(days=1)

    def _transaction(
        self, account_id: str, day: date, k: int, amount: Decimal, payee: str, category: str, rng: random.Random
    ) -> TransactionData | None:
        base_id = f"{account_id}-{day:%Y%m%d}-{k:04d}"
        age = (self.as_of - day).days
        currency = "USD"
        stamp = datetime.combine(day, time(8, 0), tzinfo=UTC) + timedelta(minutes=rng.randrange(12 * 60))
        if age < PENDING_DAYS:
            return TransactionData(
                provider_transaction_id=f"pend-{base_id}",
                provider_account_id=account_id,
                posted_date=day,
                amount=amount,
                currency=currency,
                description=payee.upper(),
                payee=payee,
                category=category,
                pending=True,
                transacted_at=stamp,
            )
        if rng.random() < HOLD_RATE:
            return None  # an authorisation hold that never posted
        return TransactionData(
            provider_transaction_id=f"txn-{base_id}",
            provider_account_id=account_id,
            posted_date=day + timedelta(days=1),
            amount=amount,
            currency=currency,
            description=payee.upper(),
            payee=payee,
            category=category,
            pending=False,
            transacted_at=stamp,
            pending_transaction_id=f"pend-{base_id}",
        )

    def _transactions(self, account_id: str, first: date, last: date) -> Iterator[TransactionData]:
        for occurrence in self._occurrences(account_id, first, last):
            transaction = self._transaction(account_id, *occurrence)
            if transaction is not None:
                yield transaction

    def _posted_flow(self, account_id: str, as_of: date) -> Decimal:
        """The sum of the posted amounts from the history's start to `as_of`, without walking the history.

        A day older than PENDING_DAYS is settled: what posted on it no longer
        depends on `as_of`. Settled days are summed in blocks of
        SETTLED_BLOCK_DAYS from the history's start, each a pure function of
        the config (cached per process by `_settled_flow`); only the last few
        unsettled days are generated on each call.
        """
        settled_until = as_of - timedelta(days=PENDING_DAYS + 1)
        key = (self.seed, self._setting("transactions_per_account", 90), self._setting("history_days", 120))
        flow = Decimal(0)
        first = self.history_start
        while first <= settled_until:
            last = min(first + timedelta(days=SETTLED_BLOCK_DAYS - 1), settled_until)
            flow += _settled_flow(*key, first.isoformat(), account_id, first, last)
            first = last + timedelta(days=1)
        recent = max(first, self.history_start)
        return flow + sum(
            (t.amount for t in self._transactions(account_id, recent, as_of) if not t.pending), Decimal(0)
        )

    def _account(self, account_id: str) -> AccountData:
        kind, subtype, label = self._kind(account_id)
        rng = random.Random(f"{self.seed}:{account_id}:opening")
        opening = Decimal(rng.randint(100_000, 2_000_000)) * CENT
        if kind == "credit":
            opening = (-opening / 10).quantize(CENT)
        as_of = self.as_of
        flow = self._posted_flow(account_id, as_of)
        balance = opening + flow
        pending = sum(
            (
                t.amount
                for t in self._transactions(account_id, as_of - timedelta(days=PENDING_DAYS), as_of)
                if t.pending
            ),
            Decimal(0),
        )
        number = account_id.rsplit("-", 1)[1]
        if kind == "investment":
            balance = sum((h.market_value or 0 for h in self._holdings(account_id)), Decimal(0))
        return AccountData(
            provider_account_id=account_id,
            name=f"{label} {number}",
            type=kind,
            subtype=subtype,
            mask=number[-4:],
            currency="USD",
            balance=balance,
            available_balance=None if kind == "investment" else balance + pending,
            balance_date=datetime.combine(as_of, time(23, 0), tzinfo=UTC),
        )

    def _holdings(self, account_id: str) -> list[HoldingData]:
        as_of = self.as_of
        result = []
        for symbol, name, asset_type, base_price in SECURITIES:
            rng = random.Random(f"{self.seed}:{account_id}:{symbol}")
            quantity = Decimal(rng.randint(1_000, 500_000)) / 1000
            drift = Decimal(str(round(1 + 0.08 * math.sin(as_of.toordinal() / 9 + rng.random() * 6), 6)))
            price = base_price if asset_type == "cash" else (base_price * drift).quantize(Decimal("0.0001"))
            cost = (quantity * base_price * Decimal("0.9")).quantize(CENT)
            result.append(
                HoldingData(
                    provider_holding_id=f"{account_id}-{symbol}",
                    provider_account_id=account_id,
                    symbol=symbol,
                    name=name,
                    asset_type=asset_type,
                    quantity=quantity,
                    price=price,
                    cost_basis=cost,
                    market_value=(quantity * price).quantize(CENT),
                    currency="USD",
                    as_of=datetime.combine(as_of, time(21, 0), tzinfo=UTC),
                )
            )
        return result

    # --- the protocol --------------------------------------------------------

    def fetch_accounts(self) -> AccountsResult:
        self._check_credentials()
        return AccountsResult(accounts=[self._account(account_id) for account_id in self._account_ids()])

    def fetch_transactions(self, *, start, end, account_ids=None, cursor=None) -> TransactionsResult:
        self._check_credentials()
        known = self._account_ids()
        wanted = [a for a in known if account_ids is None or a in account_ids]
        last = min(end, self.as_of)
        transactions = []
        for account_id in wanted:
            # Posted rows carry the next day's date, so look one day further back.
            for transaction in self._transactions(account_id, start - timedelta(days=1), last):
                if start <= transaction.posted_date <= end:
                    transactions.append(transaction)
        return TransactionsResult(transactions=transactions, accounts_covered=wanted)

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        self._check_credentials()
        if account_id not in self._account_ids():
            return HoldingsResult(holdings=[])
        kind, _, _ = self._kind(account_id)
        if kind != "investment":
            return HoldingsResult(holdings=[])
        return HoldingsResult(holdings=self._holdings(account_id), account=self._account(account_id))


@functools.lru_cache(maxsize=4096)
def _settled_flow(
    seed: int, per_account: int, history_days: int, history_start: str, account_id: str, first: date, last: date
) -> Decimal:
    """The posted amounts of days first..last, all settled: the same whatever day the data is asked on."""
    config = {
        "seed": seed,
        "transactions_per_account": per_account,
        "history_days": history_days,
        "history_start": history_start,
        "as_of": (last + timedelta(days=PENDING_DAYS + 1)).isoformat(),
    }
    provider = DemoProvider(credentials={}, config=config)
    return sum((t.amount for t in provider._transactions(account_id, first, last) if not t.pending), Decimal(0))
