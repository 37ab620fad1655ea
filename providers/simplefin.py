"""The `simplefin` provider: the SimpleFIN protocol (simplefin.org), e.g. the SimpleFIN Bridge.

Connect with a setup token (a base64 claim URL, claimed here exactly once) or
an access URL. The access URL carries Basic-auth credentials: it is the only
credential, stored encrypted, and it never appears in a message or a log.

Transactions are fetched by window (`GET {access_url}/accounts` with
`start-date` inclusive and `end-date` exclusive, both epoch seconds) in chunks
of at most 60 days. SimpleFIN gives a pending transaction that posts a new id
without a link; the sync core matches the two (same account and amount, dates
close).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from django.views.decorators.debug import sensitive_variables

from providers import netguard
from providers import payload as p
from providers import simplefin_rows as rows
from providers.base import (
    AccountData,
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    CredentialField,
    HoldingData,
    HoldingsResult,
    TransactionData,
    TransactionSpan,
    TransactionsResult,
    supersedes,
)
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfigError,
    ProviderCredentialsInvalid,
    ProviderUnavailable,
)
from providers.http import (
    HTTPProvider,
    HttpResponse,
    Prefetch,
    ProviderHTTP,
    max_pages,
    parse_json,
    raise_for_status,
    require_safe_scheme,
    safe_location,
    strip_userinfo,
)
from providers.registry import register

NAME = "SimpleFIN"
CHUNK_DAYS = 60  # servers reject wider windows, whatever the protocol text says
MAX_TOKEN_CHARS = 4096
CHUNK_ORIGIN = date(1970, 1, 1)


def _chunks(start: date, end: date) -> list[tuple[date, date]]:
    """[start, end] (inclusive) as consecutive inclusive pieces of at most CHUNK_DAYS days.

    A window that fits one request is one piece. A longer one is cut on fixed
    boundaries (every CHUNK_DAYS days from 1970-01-01), not from `start`: a
    window that moves from one sync to the next keeps its inner chunks, and
    with them their spans (see `_span`), for at most one request more.
    """
    if (end - start).days < CHUNK_DAYS:
        return [(start, end)] if start <= end else []
    chunks = []
    first = start
    while first <= end:
        into = (first - CHUNK_ORIGIN).days % CHUNK_DAYS
        last = min(first + timedelta(days=CHUNK_DAYS - 1 - into), end)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


def _validated_access_url(url: str, what: str, *, field: str | None = None) -> str:
    if not isinstance(url, str):
        raise ProviderConfigError(f"{what} must be text", field=field)
    url = url.strip()
    require_safe_scheme(url, what, field=field)
    _, auth = strip_userinfo(url)
    if auth is None or not auth[0] or not auth[1]:
        raise ProviderConfigError(f"{what} has no credentials (expected https://USER:PASSWORD@HOST/PATH)", field=field)
    return url.rstrip("/")


def _require_public(url: str, what: str, *, field: str) -> None:
    """Refuse (as a connect input error on `field`) a URL whose host is not public, without contacting it."""
    if netguard.private_hosts_allowed():
        return
    try:
        netguard.resolve_public(url, what)
    except netguard.HostRefused as refused:
        raise ProviderConfigError(refused.message, field=field) from None


@register
class SimpleFINProvider(HTTPProvider):
    """Banks and brokerages behind a SimpleFIN server, by window, with holdings."""

    slug = "simplefin"
    display_name = "SimpleFIN"
    capabilities = Capabilities(
        accounts=True, transactions=True, holdings=True, transactions_mode="window", transaction_spans=True
    )
    connect_fields = (
        CredentialField(name="setup_token", help="SimpleFIN setup token (claimed once, then useless)", required=False),
        CredentialField(
            name="access_url", help="SimpleFIN access URL, if already claimed", required=False, max_length=2048
        ),
    )

    # --- connect -----------------------------------------------------------------

    @classmethod
    @sensitive_variables()
    def connect(cls, options: Mapping[str, Any], *, wide_bounds: bool = False) -> ConnectionSetup:
        token = options.get("setup_token") or ""
        access_url = options.get("access_url") or ""
        for name, value in (("setup_token", token), ("access_url", access_url)):
            if not isinstance(value, str):
                raise ProviderConfigError(f"{name} must be text", field=name)
        token, access_url = token.strip(), access_url.strip()
        if bool(token) == bool(access_url):
            raise ProviderConfigError("give either a SimpleFIN setup token or an access URL (exactly one)")
        if token:
            access_url = cls._claim(token)
        else:
            what = "the SimpleFIN access URL"
            access_url = _validated_access_url(access_url, what, field="access_url")
            _require_public(access_url, what, field="access_url")
        server, _ = strip_userinfo(access_url)
        return ConnectionSetup(credentials={"access_url": access_url}, config={"server": safe_location(server)})

    @classmethod
    @sensitive_variables()
    def _claim(cls, token: str) -> str:
        field = "setup_token"
        if len(token) > MAX_TOKEN_CHARS:
            raise ProviderConfigError("the SimpleFIN setup token is too long", field=field)
        try:
            claim_url = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("ascii").strip()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ProviderConfigError(
                "the SimpleFIN setup token is not valid (it should be base64 text)", field=field
            ) from None
        what = "the SimpleFIN setup token's claim URL"
        require_safe_scheme(claim_url, what, field=field)
        _require_public(claim_url, what, field=field)
        http = ProviderHTTP(NAME)
        try:
            # A claim is single-use: never retried. The host is checked again and the
            # request pinned to the checked address (a name may resolve elsewhere by now).
            response = http.request(
                "POST",
                claim_url,
                idempotent=False,
                data=b"",
                headers={"Content-Length": "0"},
                what=what,
                public_only=True,
            )
        except netguard.HostRefused as refused:
            raise ProviderConfigError(refused.message, field=field) from None
        finally:
            http.close()
        if response.status == 403:
            raise ProviderConfigError(
                "the SimpleFIN setup token was already claimed or does not exist. If you did not claim it, "
                "your financial data may be exposed: disable the token at your SimpleFIN server and create a new one",
                field=field,
            )
        raise_for_status(response, NAME)
        access_url = response.text().strip()
        what = "the access URL returned by the SimpleFIN claim"
        try:
            access_url = _validated_access_url(access_url, what)
        except ProviderConfigError as error:
            raise ProviderBadResponse(error.message) from None
        _require_public(access_url, what, field=field)
        return access_url

    # --- requests ----------------------------------------------------------------

    @property
    def _access_url(self) -> str:
        url = self.credentials.get("access_url")
        if not isinstance(url, str) or not url:
            raise ProviderCredentialsInvalid("the SimpleFIN connection has no access URL; reconnect it")
        return url

    def _secrets(self) -> tuple[str, ...]:
        _, auth = strip_userinfo(self.credentials.get("access_url") or "")
        return (self.credentials.get("access_url") or "", *(auth or ()))

    def _request_accounts(self, params: list[tuple[str, str]]) -> bytes:
        """The body of `GET /accounts` (statuses mapped to errors), not yet read."""
        response: HttpResponse = self.http.request(
            "GET",
            self._access_url + "/accounts",
            idempotent=True,
            params=params,
            what="the SimpleFIN access URL",
            public_only=True,
        )
        if response.status == 403:
            raise ProviderAuthError(
                "SimpleFIN refused the access URL (HTTP 403): access was revoked or the credentials changed; "
                "reconnect with a new setup token"
            )
        raise_for_status(response, NAME)
        return response.body

    def _get_accounts(self, params: list[tuple[str, str]]) -> dict:
        return self._read(self._request_accounts(params))

    @staticmethod
    def _read(data: bytes) -> dict:
        """An /accounts body read whole, carefully: ProviderBadResponse names what is wrong."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = "\ufffd"  # not JSON: parse_json says so
        del data  # a long window's body is large: the text replaces the bytes
        return p.as_object(parse_json(text, "SimpleFIN /accounts"), "response")

    def _warnings(self, body: dict) -> tuple[list[str], set[str]]:
        """Sanitised `errors` / `errlist` messages, and the accounts errlist names as failed."""
        messages: list[str] = []
        failed_accounts: set[str] = set()
        for item in p.as_list(body.get("errors") or [], "errors"):
            messages.append(p.sanitize_message(item, secrets=self._secrets()))
        for index, item in enumerate(p.as_list(body.get("errlist") or [], "errlist")):
            entry = p.as_object(item, f"errlist[{index}]")
            text = entry.get("message") or entry.get("msg") or entry.get("code") or "unknown error"
            code = entry.get("code")
            message = p.sanitize_message(f"{text} ({code})" if code and code != text else text, secrets=self._secrets())
            messages.append(message)
            if entry.get("account_id") not in (None, ""):
                failed_accounts.add(str(entry["account_id"]))
        return list(dict.fromkeys(m for m in messages if m)), failed_accounts

    def _accounts(self, body: dict) -> list[dict]:
        return [
            p.as_object(a, f"accounts[{i}]")
            for i, a in enumerate(p.as_list(p.field(body, "accounts", "response"), "accounts"))
        ]

    # --- mapping -----------------------------------------------------------------

    @staticmethod
    def _account(raw: dict, path: str) -> AccountData:
        account_id = p.as_id(p.field(raw, "id", path), f"{path}.id")
        balance = p.as_decimal(p.field(raw, "balance", path), f"{path}.balance")
        available = p.as_decimal(raw.get("available-balance"), f"{path}.available-balance", nullable=True)
        balance_date = p.epoch_datetime(p.as_epoch(p.field(raw, "balance-date", path), f"{path}.balance-date"))
        currency = p.as_str(p.field(raw, "currency", path), f"{path}.currency")
        name = p.as_str(p.field(raw, "name", path), f"{path}.name")
        holdings = raw.get("holdings")
        return AccountData(
            provider_account_id=account_id,
            name=name,
            type="investment" if isinstance(holdings, list) else "other",
            currency=p.currency_code(currency),
            balance=balance,
            available_balance=balance if available is None else available,
            balance_date=balance_date,
        )

    @staticmethod
    def _transaction(raw: dict, path: str, account: AccountData, today: date) -> TransactionData:
        transaction_id = p.as_id(p.field(raw, "id", path), f"{path}.id")
        posted = p.as_epoch(p.field(raw, "posted", path), f"{path}.posted")
        amount = p.as_decimal(p.field(raw, "amount", path), f"{path}.amount")
        description = p.as_str(p.field(raw, "description", path), f"{path}.description", nullable=True)
        transacted = raw.get("transacted_at")
        transacted = None if transacted in (None, 0) else p.as_epoch(transacted, f"{path}.transacted_at")
        pending, when = rows.dating(p.as_bool(raw.get("pending"), f"{path}.pending"), posted, transacted)
        payee = p.as_str(raw.get("payee"), f"{path}.payee", nullable=True)
        extra = raw.get("extra") if isinstance(raw.get("extra"), dict) else {}
        category = extra.get("category") if isinstance(extra.get("category"), str) else ""
        return TransactionData(
            provider_transaction_id=transaction_id,
            provider_account_id=account.provider_account_id,
            posted_date=rows.row_date(when, today),
            amount=amount,
            currency=account.currency,
            description=description,
            payee=payee,
            category=category,
            pending=pending,
            transacted_at=None if transacted is None else p.epoch_datetime(transacted),
        )

    @staticmethod
    def _holding(raw: dict, path: str, account: AccountData) -> HoldingData:
        holding_id = p.as_id(p.field(raw, "id", path), f"{path}.id")
        shares = p.as_decimal(raw.get("shares"), f"{path}.shares", nullable=True) or Decimal(0)
        market_value = p.as_decimal(raw.get("market_value"), f"{path}.market_value", nullable=True)
        price = None
        if market_value is not None and shares:
            price = market_value / shares
        elif raw.get("purchase_price") is not None:
            price = p.as_decimal(raw.get("purchase_price"), f"{path}.purchase_price")
        currency = p.as_str(raw.get("currency"), f"{path}.currency", nullable=True)
        return HoldingData(
            provider_holding_id=holding_id,
            provider_account_id=account.provider_account_id,
            symbol=p.as_str(raw.get("symbol"), f"{path}.symbol", nullable=True),
            name=p.as_str(raw.get("description"), f"{path}.description", nullable=True),
            quantity=shares,
            price=price,
            cost_basis=p.as_decimal(raw.get("cost_basis"), f"{path}.cost_basis", nullable=True),
            market_value=market_value,
            currency=p.currency_code(currency) if currency else account.currency,
            as_of=account.balance_date,
        )

    # --- the protocol ------------------------------------------------------------

    def fetch_accounts(self) -> AccountsResult:
        body = self._get_accounts([("balances-only", "1")])
        warnings, _ = self._warnings(body)
        raw_accounts = self._accounts(body)
        accounts = [self._account(raw, f"accounts[{i}]") for i, raw in enumerate(raw_accounts)]
        self._fail_if_nothing(accounts, warnings)
        return AccountsResult(accounts=accounts, warnings=warnings)

    def _fail_if_nothing(self, accounts: list, warnings: list[str]) -> None:
        """Errors and no accounts at all is a failure, not a partial success."""
        if not accounts and warnings:
            raise ProviderUnavailable("SimpleFIN returned no accounts: " + "; ".join(warnings))

    def iter_transaction_pages(
        self, *, start, end, account_ids=None, cursor=None, known_spans=None
    ) -> Iterator[TransactionsResult]:
        """Pages per window chunk and account, then a last page with the accounts covered and every warning.

        The next chunk is requested on a worker thread while this one is read
        and mapped, so the server's time and the mapping overlap; at most one
        request is in flight. Each answer is framed without parsing its rows
        (simplefin_rows.read_frame), then read one account at a time. An
        account's rows of a chunk are a span when they allow it
        (simplefin_rows.spannable); a span in `known_spans` with the same digest
        is handed over as its ids, its rows never parsed.
        """
        chunks = _chunks(start, end)
        if len(chunks) > max_pages():
            raise ProviderConfigError(f"the window needs {len(chunks)} requests; at most {max_pages()} are allowed")
        today = datetime.now(UTC).date()
        accounts: dict[str, AccountData] = {}
        warnings: list[str] = []
        failed: set[str] = set()
        with Prefetch("finsync-simplefin") as ahead:
            params = [self._chunk_params(chunk, account_ids) for chunk in chunks]
            upcoming = ahead.submit(self._request_accounts, params[0]) if chunks else None
            for index, (first, last) in enumerate(chunks):
                data = upcoming.result()
                upcoming = ahead.submit(self._request_accounts, params[index + 1]) if index + 1 < len(chunks) else None
                body, chunk_accounts = self._frame(data)
                del data
                chunk_warnings, chunk_failed = self._warnings(body)
                warnings += chunk_warnings
                failed |= chunk_failed
                yield TransactionsResult(transactions=[], warnings=chunk_warnings)
                # A page per account of the chunk, its rows parsed only now and dropped once
                # mapped: memory holds one answer's bytes (and the next one's, arriving) and
                # one account's rows, not the window.
                for i, item in enumerate(chunk_accounts):
                    path = f"accounts[{i}]"
                    account = self._account(item.fields, path)
                    if account_ids and account.provider_account_id not in account_ids:
                        continue
                    accounts[account.provider_account_id] = account
                    span = (max(first, start), min(last, end))
                    yield self._account_page(
                        item, path, account, span=span, window=(start, end), today=today, known=known_spans
                    )
                    chunk_accounts[i] = None  # its rows' bytes can go
                del body, chunk_accounts
        warnings = list(dict.fromkeys(warnings))
        self._fail_if_nothing(list(accounts.values()), warnings)
        yield TransactionsResult(
            transactions=[],
            # An account the server reported an error for may be missing rows:
            # leave its stored rows alone rather than remove them.
            accounts_covered=[a for a in accounts if a not in failed],
            accounts=list(accounts.values()),
            warnings=warnings,
        )

    def _frame(self, data: bytes) -> tuple[dict, list]:
        """An answer's `errors`/`errlist` and its accounts (`AccountRows`), rows left raw where msgspec frames it.

        An answer it cannot frame is read whole by the careful path; its
        accounts then carry their parsed rows (and make no spans).
        """
        framed = rows.read_frame(data)
        if framed is not None:
            return framed
        body = self._read(data)
        return body, [rows.AccountRows(fields=raw, rows=raw.pop("transactions", None)) for raw in self._accounts(body)]

    def _account_page(
        self, item, path: str, account: AccountData, *, span: tuple[date, date], window, today: date, known
    ) -> TransactionsResult:
        """One account's page of a chunk: its ids if its span is known unchanged, else its rows mapped."""
        first, last = span
        digest = None
        if isinstance(item.rows, msgspec.Raw):
            digest = rows.span_digest(item.rows, account, first, last)
            ids = (
                rows.row_ids(item.rows)
                if (known or {}).get((account.provider_account_id, first, last)) == digest
                else None
            )
            if ids is not None:
                unchanged = TransactionSpan(
                    provider_account_id=account.provider_account_id, first=first, last=last, digest=digest
                )
                return TransactionsResult(transactions=[], accounts=[account], span=unchanged, unchanged_ids=ids)
            raw_transactions = rows.parse_rows(item.rows)
        else:
            raw_transactions = item.rows
        raw_transactions = p.as_list(raw_transactions or [], f"{path}.transactions")
        span = None
        if digest is not None and rows.spannable(raw_transactions, first, last):
            span = TransactionSpan(
                provider_account_id=account.provider_account_id, first=first, last=last, digest=digest
            )
        return TransactionsResult(
            transactions=self._transactions(raw_transactions, path, account, *window, today),
            accounts=[account],
            span=span,
        )

    @staticmethod
    def _chunk_params(chunk: tuple[date, date], account_ids) -> list[tuple[str, str]]:
        first, last = chunk
        params = [
            ("start-date", str(rows.epoch(first))),
            ("end-date", str(rows.epoch(last + timedelta(days=1)))),
            ("pending", "1"),
        ]
        return params + [("account", account_id) for account_id in account_ids or ()]

    def _transactions(
        self, raw_transactions: list, path: str, account: AccountData, start: date, end: date, today: date
    ) -> list[TransactionData]:
        """An account's rows of one chunk within [start, end]; the same id twice keeps the posted version."""
        transactions: dict[tuple[str, str], TransactionData] = {}
        for j, raw in enumerate(raw_transactions):
            data = rows.fast_transaction(raw, account, today)
            if data is None:  # something unusual: the careful reader maps it or names the bad field
                item_path = f"{path}.transactions[{j}]"
                data = self._transaction(p.as_object(raw, item_path), item_path, account, today)
            if start <= data.posted_date <= end:
                key = (data.provider_account_id, data.provider_transaction_id)
                known = transactions.get(key)
                if known is None or supersedes(known.pending, data.pending):
                    transactions[key] = data
        return list(transactions.values())

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        body = self._get_accounts([("account", account_id), ("balances-only", "1")])
        warnings, _ = self._warnings(body)
        for i, raw in enumerate(self._accounts(body)):
            path = f"accounts[{i}]"
            account = self._account(raw, path)
            if account.provider_account_id != account_id:
                continue
            raw_holdings = p.as_list(raw.get("holdings") or [], f"{path}.holdings")
            holdings = [
                self._holding(p.as_object(h, f"{path}.holdings[{j}]"), f"{path}.holdings[{j}]", account)
                for j, h in enumerate(raw_holdings)
            ]
            return HoldingsResult(holdings=holdings, account=account, warnings=warnings)
        self._fail_if_nothing([], warnings)
        return HoldingsResult(holdings=[], warnings=warnings)
