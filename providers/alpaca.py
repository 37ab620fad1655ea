"""The `alpaca` provider: Alpaca's Trading API (v2) with an API key id and secret.

One brokerage account per key (`GET /v2/account`), its positions
(`GET /v2/positions`, shorts as negative quantities) and its activities
(`GET /v2/account/activities`), fetched by window: one paginated loop per
category (trade_activity, non_trade_activity), oldest first, 100 rows a page,
each page starting after the last row's id, until Alpaca answers an empty
page. `after` / `until` filter on when Alpaca created an activity, not on its
date (a fee is created the day after it is dated), so the request reaches
OVERLAP_DAYS beyond both ends of the window and the rows are then kept by
their own date. Canceled activities are removals.

The keys are the connection's encrypted credentials, sent only in the
APCA-API-KEY-ID / APCA-API-SECRET-KEY headers; the environment (paper or
live) is plain config. ALPACA_BASE_URL, read at call time, replaces both
hosts when set (tests, a proxy).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from django.conf import settings

from providers import alpaca_rows as rows
from providers import payload as p
from providers.base import (
    AccountData,
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    CredentialField,
    HoldingsResult,
    RemovedTransaction,
    TransactionData,
    TransactionsResult,
    window_page,
)
from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderCredentialsInvalid,
    ProviderError,
    ProviderUnavailable,
)
from providers.http import HTTPProvider, HttpResponse, max_pages, parse_json, raise_for_status
from providers.registry import register

logger = logging.getLogger("finsync.providers.alpaca")

NAME = "Alpaca"
HOSTS = {"paper": "https://paper-api.alpaca.markets", "live": "https://api.alpaca.markets"}
CATEGORIES = ("trade_activity", "non_trade_activity")
PAGE_SIZE = 100  # the most Alpaca returns per page
OVERLAP_DAYS = 7  # how far `after` / `until` reach past the window: they filter on creation, not on the date
MAX_KEY_CHARS = 256


def _key(options: Mapping[str, Any], name: str, option: str) -> str:
    value = options.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if not value or len(value) > MAX_KEY_CHARS or any(c.isspace() or not c.isprintable() for c in value):
        raise ProviderConfigError(f"give the Alpaca {name.replace('_', ' ')} ({option})")
    return value


@register
class AlpacaProvider(HTTPProvider):
    """A brokerage account at Alpaca (paper or live), activities by window, with positions."""

    slug = "alpaca"
    display_name = "Alpaca"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=True, transactions_mode="window")
    connect_fields = (
        CredentialField(name="api_key_id", help="Alpaca API key id"),
        CredentialField(name="api_secret_key", help="Alpaca API secret key"),
        CredentialField(
            name="environment", help="Alpaca environment: paper (default) or live", secret=False, required=False
        ),
    )

    @classmethod
    def connect(cls, options: Mapping[str, Any]) -> ConnectionSetup:
        """Check the keys against `GET /v2/account` of the chosen environment."""
        environment = options.get("environment") or "paper"
        if environment not in HOSTS:
            raise ProviderConfigError("the Alpaca environment must be paper or live")
        credentials = {
            "api_key_id": _key(options, "api_key_id", "--api-key-id"),
            "api_secret_key": _key(options, "api_secret_key", "--api-secret-key"),
        }
        adapter = cls(credentials=credentials, config={"environment": environment})
        try:
            adapter._get("/v2/account")
        except ProviderAuthError:
            # Paper and live keys are different pairs: a paper key against live answers 401.
            raise ProviderConfigError(
                f"Alpaca ({environment}) did not accept the API key id and secret; check that they are "
                f"{environment} keys"
            ) from None
        finally:
            adapter.close()
        return ConnectionSetup(credentials=credentials, config={"environment": environment})

    # --- requests ----------------------------------------------------------------

    @property
    def environment(self) -> str:
        environment = self.config.get("environment") or "paper"
        return environment if environment in HOSTS else "paper"

    def _base_url(self) -> str:
        return (getattr(settings, "ALPACA_BASE_URL", "") or HOSTS[self.environment]).rstrip("/")

    def _secrets(self) -> tuple[str, ...]:
        return tuple(str(v) for v in self.credentials.values() if v)

    def _get(self, path: str, params: list[tuple[str, str]] | None = None, *, what: str | None = None) -> Any:
        """The JSON answer of a GET; Alpaca's errors raised as ProviderErrors (401/403 -> re-authentication)."""
        key_id, secret = self.credentials.get("api_key_id"), self.credentials.get("api_secret_key")
        if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
            raise ProviderCredentialsInvalid("the Alpaca connection has no API keys; reconnect it")
        response: HttpResponse = self.http.request(
            "GET",
            self._base_url() + path,
            idempotent=True,
            params=params,
            headers={"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret, "Accept": "application/json"},
            what="ALPACA_BASE_URL",
        )
        if not response.ok:
            self._raise(response, path)
        return parse_json(response, f"Alpaca {what or path}")

    def _raise(self, response: HttpResponse, path: str) -> None:
        if response.status in (401, 403, 429) or response.status >= 500:
            logger.info("Alpaca %s answered HTTP %s", path, response.status)
            raise_for_status(response, f"{NAME} ({self.environment})")
        try:
            body = parse_json(response, f"Alpaca {path}")
        except ProviderError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        detail = p.sanitize_message(message, secrets=self._secrets()) if isinstance(message, str) else ""
        suffix = f": {detail}" if detail else ""
        raise ProviderUnavailable(f"Alpaca rejected the request (HTTP {response.status}{suffix})")

    def _account(self) -> AccountData:
        return rows.account(p.as_object(self._get("/v2/account"), "account"), self.environment)

    # --- the protocol ------------------------------------------------------------

    def fetch_accounts(self) -> AccountsResult:
        return AccountsResult(accounts=[self._account()])

    def fetch_transactions(self, *, start, end, account_ids=None, cursor=None) -> TransactionsResult:
        """Every page of `iter_transaction_pages` in one result."""
        transactions: dict[str, TransactionData] = {}
        removed: dict[str, RemovedTransaction] = {}
        last = TransactionsResult(transactions=[])
        for page in self.iter_transaction_pages(start=start, end=end, account_ids=account_ids):
            for data in page.transactions:
                removed.pop(data.provider_transaction_id, None)
                transactions[data.provider_transaction_id] = data
            for item in page.removed:
                transactions.pop(item.provider_transaction_id, None)
                removed[item.provider_transaction_id] = item
            last = page
        return TransactionsResult(
            transactions=list(transactions.values()),
            removed=list(removed.values()),
            accounts_covered=last.accounts_covered,
            accounts=last.accounts,
        )

    def iter_transaction_pages(
        self, *, start: date, end: date, account_ids=None, cursor=None
    ) -> Iterator[TransactionsResult]:
        """One page per Alpaca page of either category, then a last page naming the account covered.

        Rows dated outside [start, end] (fetched by the overlap) are left out;
        an id met twice is taken once.
        """
        account = self._account()
        if account_ids and account.provider_account_id not in account_ids:
            yield TransactionsResult(transactions=[], accounts=[account])
            return
        seen: set[str] = set()
        for category in CATEGORIES:
            for number, raw_page in enumerate(self._activity_pages(category, start, end), start=1):
                where = f"{category} page {number}"
                items = (rows.activity(raw, f"{where}[{i}]", account) for i, raw in enumerate(raw_page))
                yield window_page(items, seen, start, end)
        yield TransactionsResult(transactions=[], accounts_covered=[account.provider_account_id], accounts=[account])

    def _activity_pages(self, category: str, start: date, end: date) -> Iterator[list]:
        """The raw pages of one category, oldest first, until Alpaca answers an empty page."""
        params = [
            ("category", category),
            ("direction", "asc"),
            ("page_size", str(PAGE_SIZE)),
            ("after", (start - timedelta(days=OVERLAP_DAYS)).isoformat()),
            ("until", (end + timedelta(days=OVERLAP_DAYS)).isoformat()),
        ]
        token = None
        for number in range(1, max_pages() + 1):
            where = f"{category} page {number}"
            page = p.as_list(
                self._get("/v2/account/activities", [*params, ("page_token", token)] if token else params, what=where),
                where,
            )
            if not page:
                return
            last = p.as_object(page[-1], f"{where}[{len(page) - 1}]")
            next_token = p.as_id(p.field(last, "id", f"{where}[{len(page) - 1}]"), f"{where}[{len(page) - 1}].id")
            if next_token == token:
                raise p.bad(f"{where}[{len(page) - 1}].id", "the same page again (pagination does not advance)")
            token = next_token
            yield page
        raise ProviderUnavailable(f"Alpaca had more than {max_pages()} pages of {category}; sync a shorter window")

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        raw = p.as_list(self._get("/v2/positions"), "positions")
        holdings = [rows.position(item, f"positions[{i}]", account_id) for i, item in enumerate(raw)]
        return HoldingsResult(holdings=holdings)
