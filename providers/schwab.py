"""The `schwab` provider: Charles Schwab's Trader API (Individual) over OAuth2.

Connecting is a browser flow (`oauth = True`): `authorize_url(state)` sends
the user to `{SCHWAB_BASE_URL}/v1/oauth/authorize`; Schwab redirects to
SCHWAB_REDIRECT_URI with a `code` (ending in `@`, URL-encoded), which
`exchange_code` trades at `/v1/oauth/token` (HTTP Basic app key:secret,
form `grant_type=authorization_code`). The access token lives 30 minutes;
the refresh token about 7 days from the login, and refreshing does not
extend it: `config["authorized_at"]` is the start of that clock.

Before each request the access token is refreshed when fewer than
REFRESH_LEEWAY remain (form `grant_type=refresh_token`); every token the
answer carries is handed at once to the sync core (`credentials_changed`),
which stores it in its own transaction. A 400/401 of the token endpoint
naming one of REAUTH_ERRORS (also nested in `error_description`) is
ProviderAuthError: re-authorization needed, nothing retried. A 401 on a
data call refreshes once and retries once.

Data: `/trader/v1/accounts/accountNumbers` first (number -> hashValue; the
hash is what goes in paths, the plain number never does), then
`/accounts?fields=positions` (balances and positions) and
`/accounts/{hash}/transactions` by windows of at most MAX_WINDOW_DAYS,
bisected while a window answers MAX_ROWS rows (Schwab's cap, no paging).

Account identity: `provider_account_id` is HMAC-SHA256 of the account number
under `account_key`, a random key of the connection kept encrypted with its
tokens (and kept by a reconnect: `carried_over_credentials`); the mask is
the last four digits. The plain number is stored nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from providers import payload as p
from providers import schwab_rows as rows
from providers.base import (
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    HoldingsResult,
    RemovedTransaction,
    TransactionData,
    TransactionsResult,
    window_page,
)
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfigError,
    ProviderCredentialsInvalid,
    ProviderError,
    ProviderUnavailable,
)
from providers.http import HTTPProvider, HttpResponse, ProviderHTTP, parse_json, raise_for_status
from providers.registry import register

logger = logging.getLogger("finsync.providers.schwab")

NAME = "Schwab"
DEFAULT_BASE_URL = "https://api.schwabapi.com"
REQUIRED_SETTINGS = ("SCHWAB_CLIENT_ID", "SCHWAB_CLIENT_SECRET", "SCHWAB_REDIRECT_URI")
REFRESH_LEEWAY = timedelta(minutes=5)
REAUTH_AFTER = timedelta(days=7)
MAX_WINDOW_DAYS = 364
MAX_ROWS = 3000
# Every TransactionType: Schwab requires `types` and answers only the types asked for.
TRANSACTION_TYPES = (
    "TRADE,RECEIVE_AND_DELIVER,DIVIDEND_OR_INTEREST,ACH_RECEIPT,ACH_DISBURSEMENT,CASH_RECEIPT,CASH_DISBURSEMENT,"
    "ELECTRONIC_FUND,WIRE_OUT,WIRE_IN,JOURNAL,MEMORANDUM,MARGIN_CALL,MONEY_MARKET,SMA_ADJUSTMENT"
)
# What the token endpoint says when the refresh token (or the app's login) is no longer good.
REAUTH_ERRORS = ("invalid_grant", "invalid_client", "unsupported_token_type", "refresh_token_authentication_error")
REAUTH_MESSAGE = "Schwab no longer accepts this connection's login ({why}); re-authorize it (Reconnect)"


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


def _base_url() -> str:
    return (_setting("SCHWAB_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def stamp(moment: datetime) -> str:
    """Schwab's timestamp parameter form: UTC, whole seconds, `.000Z` (isoformat's `+00:00` is refused)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end] cut into consecutive windows of at most MAX_WINDOW_DAYS (both ends inclusive, to the second)."""
    out = []
    while start <= end:
        last = min(end, start + timedelta(days=MAX_WINDOW_DAYS) - timedelta(seconds=1))
        out.append((start, last))
        start = last + timedelta(seconds=1)
    return out


def _token_error(response: HttpResponse) -> tuple[str, str]:
    """(error, error_description) of a token endpoint answer; empty when it has none."""
    try:
        body = parse_json(response, "Schwab token")
    except ProviderError:
        body = None
    if not isinstance(body, dict):
        return "", ""
    error, description = body.get("error"), body.get("error_description")
    return (error if isinstance(error, str) else ""), (description if isinstance(description, str) else "")


def _reauth_code(error: str, description: str) -> str:
    """The re-authorization error the token endpoint names (in `error` or nested in the description), or ""."""
    for code in REAUTH_ERRORS:
        if error == code:
            return code
    for code in REAUTH_ERRORS:
        if code in description:
            return code
    return ""


def _data_error(response: HttpResponse, what: str, secrets_: tuple[str, ...]) -> str:
    """A readable message of Schwab's `{"message"}`, gateway `{"errors": [...]}` or Apigee `{"fault"}` bodies."""
    try:
        body = parse_json(response, what)
    except ProviderError:
        return ""
    parts: list[str] = []
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            parts.append(body["message"])
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                parts += [str(item[k]) for k in ("title", "detail") if isinstance(item.get(k), str | int)]
            elif isinstance(item, str):
                parts.append(item)
        fault = body.get("fault")
        if isinstance(fault, dict) and isinstance(fault.get("faultstring"), str):
            parts.append(fault["faultstring"])
    return p.sanitize_message(": ".join(parts), secrets=secrets_)


@register
class SchwabProvider(HTTPProvider):
    """Brokerage accounts at Charles Schwab: balances, positions and transactions by window, over OAuth2."""

    slug = "schwab"
    display_name = "Charles Schwab"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=True, transactions_mode="window")
    connect_fields = ()
    oauth = True
    carried_over_credentials = ("account_key",)

    # --- connecting (OAuth2) -------------------------------------------------------

    @classmethod
    def missing_settings(cls) -> list[str]:
        return [name for name in REQUIRED_SETTINGS if not _setting(name)]

    @classmethod
    def _require_settings(cls) -> None:
        missing = cls.missing_settings()
        if missing:
            raise ProviderConfigError(f"Schwab is not configured on this server: set {', '.join(missing)}")

    @classmethod
    def connect(cls, options: Mapping[str, Any]) -> ConnectionSetup:
        raise ProviderConfigError("Schwab connects through its login page: use authorize (Connect Schwab)")

    @classmethod
    def authorize_url(cls, state: str) -> str:
        """`{base}/v1/oauth/authorize?client_id&redirect_uri&response_type=code&state` (the callback unencoded
        beyond what a query needs: it must match the registered one exactly)."""
        cls._require_settings()
        query = urlencode(
            {
                "client_id": _setting("SCHWAB_CLIENT_ID"),
                "redirect_uri": _setting("SCHWAB_REDIRECT_URI"),
                "response_type": "code",
                "state": state,
            },
            safe=":/",
        )
        return f"{_base_url()}/v1/oauth/authorize?{query}"

    @classmethod
    def exchange_code(cls, code: str) -> ConnectionSetup:
        """Trade the callback's code (already URL-decoded) for tokens; a new random account key."""
        cls._require_settings()
        if not isinstance(code, str) or not code.strip() or len(code) > 4096:
            raise ProviderConfigError("the Schwab callback carries no authorization code", field="code")
        http = ProviderHTTP(NAME)
        try:
            tokens = _token_request(
                http,
                {"grant_type": "authorization_code", "code": code, "redirect_uri": _setting("SCHWAB_REDIRECT_URI")},
                exchanging=True,
            )
        finally:
            http.close()
        now = datetime.now(UTC)
        credentials = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "access_expires_at": (now + timedelta(seconds=tokens["expires_in"])).isoformat(),
            "account_key": secrets.token_hex(32),
        }
        # The 7-day clock starts at this login; refreshing does not move it.
        config = {"authorized_at": now.isoformat(), "reauth_due_at": (now + REAUTH_AFTER).isoformat()}
        return ConnectionSetup(credentials=credentials, config=config)

    # --- tokens --------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        values = [str(v) for v in self.credentials.values() if v] + [_setting("SCHWAB_CLIENT_SECRET")]
        return tuple(v for v in values if v)

    def _expires_at(self) -> datetime:
        try:
            return datetime.fromisoformat(str(self.credentials.get("access_expires_at")))
        except ValueError:
            return datetime.min.replace(tzinfo=UTC)

    def _access_token(self) -> str:
        """A current access token, refreshed first when fewer than REFRESH_LEEWAY remain."""
        if not self.credentials.get("refresh_token") or not self.credentials.get("account_key"):
            raise ProviderCredentialsInvalid("the Schwab connection has no tokens; re-authorize it")
        if self._expires_at() - datetime.now(UTC) < REFRESH_LEEWAY or not self.credentials.get("access_token"):
            self.refresh()
        return str(self.credentials["access_token"])

    def refresh(self) -> None:
        """Refresh the access token; every token returned is handed on at once (`credentials_changed`)."""
        self._require_settings_for_sync()
        tokens = _token_request(
            self.http, {"grant_type": "refresh_token", "refresh_token": str(self.credentials["refresh_token"])}
        )
        self.credentials["access_token"] = tokens["access_token"]
        if tokens.get("refresh_token"):
            self.credentials["refresh_token"] = tokens["refresh_token"]
        expires = datetime.now(UTC) + timedelta(seconds=tokens["expires_in"])
        self.credentials["access_expires_at"] = expires.isoformat()
        self.credentials_changed()

    def _require_settings_for_sync(self) -> None:
        missing = self.missing_settings()
        if missing:
            raise ProviderCredentialsInvalid(f"Schwab is not configured on this server: set {', '.join(missing)}")

    # --- requests ------------------------------------------------------------------

    def _get(self, path: str, params: list[tuple[str, str]] | None = None, *, what: str) -> Any:
        """The JSON answer of a Trader API GET: a 401 refreshes once and retries once."""
        for attempt in (1, 2):
            response = self.http.request(
                "GET",
                f"{_base_url()}/trader/v1{path}",
                idempotent=True,
                params=params,
                headers={
                    "Authorization": f"Bearer {self._access_token()}",
                    "Accept": "application/json",
                    "Schwab-Client-CorrelId": str(uuid.uuid4()),
                },
                what="SCHWAB_BASE_URL",
            )
            if response.status == 401 and attempt == 1:
                logger.info("Schwab %s answered 401: refreshing the access token once", what)
                self.refresh()
                continue
            break
        if not response.ok:
            self._raise(response, what)
        return parse_json(response, f"Schwab {what}")

    def _raise(self, response: HttpResponse, what: str) -> None:
        detail = _data_error(response, f"Schwab {what}", self._secrets())
        suffix = f": {detail}" if detail else ""
        logger.info("Schwab %s answered HTTP %s", what, response.status)
        if response.status == 401:
            raise ProviderAuthError(REAUTH_MESSAGE.format(why=f"HTTP 401 after a refresh{suffix}"))
        if response.status == 429 or response.status >= 500:
            raise_for_status(response, NAME)
        if response.status == 403:
            raise ProviderUnavailable(f"Schwab refused {what} (HTTP 403{suffix}); the account may not be entitled")
        raise ProviderUnavailable(f"Schwab rejected {what} (HTTP {response.status}{suffix})")

    def _account_id(self, number: str) -> str:
        key = str(self.credentials.get("account_key") or "")
        if not key:
            raise ProviderCredentialsInvalid("the Schwab connection has no account key; re-authorize it")
        return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()

    def _hashes(self) -> dict[str, str]:
        """{account number: hashValue}, asked at the start of every sync (the hash goes in paths)."""
        raw = p.as_list(self._get("/accounts/accountNumbers", what="accountNumbers"), "accountNumbers")
        out = {}
        for i, item in enumerate(raw):
            item = p.as_object(item, f"accountNumbers[{i}]")
            number = p.as_id(p.field(item, "accountNumber", f"accountNumbers[{i}]"), f"accountNumbers[{i}]")
            out[number] = p.as_id(p.field(item, "hashValue", f"accountNumbers[{i}]"), f"accountNumbers[{i}]")
        return out

    def _accounts_raw(self) -> list:
        return p.as_list(self._get("/accounts", [("fields", "positions")], what="accounts"), "accounts")

    # --- the protocol --------------------------------------------------------------

    def fetch_accounts(self) -> AccountsResult:
        self._hashes()
        accounts = []
        for i, raw in enumerate(self._accounts_raw()):
            number = self._number_of(raw, f"accounts[{i}]")
            accounts.append(rows.account(raw, f"accounts[{i}]", self._account_id(number))[1])
        return AccountsResult(accounts=accounts)

    def _number_of(self, raw, path: str) -> str:
        account = p.as_object(p.as_object(raw, path).get("securitiesAccount"), f"{path}.securitiesAccount")
        return p.as_id(account.get("accountNumber"), f"{path}.securitiesAccount.accountNumber")

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        self._hashes()
        for i, raw in enumerate(self._accounts_raw()):
            path = f"accounts[{i}]"
            number = self._number_of(raw, path)
            if self._account_id(number) != account_id:
                continue
            _, account = rows.account(raw, path, account_id)
            holdings = [
                rows.position(item, f"{path}.positions[{j}]", account_id)
                for j, item in enumerate(rows.positions(raw, path))
            ]
            return HoldingsResult(holdings=holdings, account=account)
        raise ProviderBadResponse("Schwab no longer reports this account; sync the accounts first")

    def fetch_transactions(self, *, start, end, account_ids=None, cursor=None) -> TransactionsResult:
        """Every page of `iter_transaction_pages` in one result."""
        transactions: dict[tuple[str, str], TransactionData] = {}
        removed: list[RemovedTransaction] = []
        last = TransactionsResult(transactions=[])
        for page in self.iter_transaction_pages(start=start, end=end, account_ids=account_ids):
            for data in page.transactions:
                transactions[(data.provider_account_id, data.provider_transaction_id)] = data
            removed += page.removed
            last = page
        return TransactionsResult(
            transactions=list(transactions.values()), removed=removed, accounts_covered=last.accounts_covered
        )

    def iter_transaction_pages(
        self, *, start: date, end: date, account_ids=None, cursor=None
    ) -> Iterator[TransactionsResult]:
        """One page per answered window of each account, then a last page naming the accounts covered.

        The request reaches a day beyond both ends (booking dates are New York's, the
        filter is UTC); rows are kept by their booking date, each id once.
        """
        covered = []
        for number, hash_value in self._hashes().items():
            account_id = self._account_id(number)
            if account_ids and account_id not in account_ids:
                continue
            seen: set[str] = set()
            first = datetime.combine(start - timedelta(days=1), time.min, tzinfo=UTC)
            last = datetime.combine(end + timedelta(days=1), time.max.replace(microsecond=0), tzinfo=UTC)
            for raw_rows, where in self._window_rows(hash_value, first, last):
                items = (
                    rows.transaction(raw, f"transactions {where} [{i}]", account_id) for i, raw in enumerate(raw_rows)
                )
                yield window_page(items, seen, start, end)
            covered.append(account_id)
        yield TransactionsResult(transactions=[], accounts_covered=covered)

    def _window_rows(self, hash_value: str, first: datetime, last: datetime) -> Iterator[tuple[list, str]]:
        """The rows of each window, oldest first; a window answering MAX_ROWS rows is bisected."""
        pending = list(reversed(windows(first, last)))
        while pending:
            a, b = pending.pop()
            where = f"{stamp(a)}..{stamp(b)}"
            raw = p.as_list(
                self._get(
                    f"/accounts/{hash_value}/transactions",
                    [("startDate", stamp(a)), ("endDate", stamp(b)), ("types", TRANSACTION_TYPES)],
                    what=f"transactions {where}",
                ),
                f"transactions {where}",
            )
            if len(raw) >= MAX_ROWS:
                if b - a < timedelta(seconds=2):
                    raise ProviderUnavailable(f"Schwab has {MAX_ROWS} or more transactions within {where}")
                middle = a + timedelta(seconds=int((b - a).total_seconds()) // 2)
                pending += [(middle + timedelta(seconds=1), b), (a, middle)]
                continue
            yield raw, where


def _token_request(http: ProviderHTTP, form: dict[str, str], *, exchanging: bool = False) -> dict[str, Any]:
    """POST the token endpoint (HTTP Basic app key:secret); {access_token, refresh_token?, expires_in}."""
    response = http.request(
        "POST",
        f"{_base_url()}/v1/oauth/token",
        idempotent=False,  # a code or a refresh token may be single-use: never sent twice
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        auth=(_setting("SCHWAB_CLIENT_ID"), _setting("SCHWAB_CLIENT_SECRET")),
        what="SCHWAB_BASE_URL",
    )
    if response.status in (400, 401):
        error, description = _token_error(response)
        code = _reauth_code(error, description)
        if exchanging:
            why = code or error or f"HTTP {response.status}"
            raise ProviderConfigError(
                f"Schwab did not accept the authorization code ({why}); it is valid for about 30 seconds, "
                "so start the connection again",
                field="code",
            )
        if code or response.status == 401:
            raise ProviderAuthError(REAUTH_MESSAGE.format(why=code or "HTTP 401"))
    if not response.ok:
        raise_for_status(response, NAME)
    body = p.as_object(parse_json(response, "Schwab token"), "token")
    access = p.as_str(p.field(body, "access_token", "token"), "token.access_token")
    refresh = p.as_str(body.get("refresh_token"), "token.refresh_token", nullable=True)
    if exchanging and not refresh:
        raise p.bad("token.refresh_token", "missing")
    expires = p.as_decimal(body.get("expires_in", 1800), "token.expires_in")
    return {"access_token": access, "refresh_token": refresh, "expires_in": int(expires)}
