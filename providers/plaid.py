"""The `plaid` provider: Plaid's API (version 2020-09-14) with an Item's access token.

`/accounts/get` for accounts, `/transactions/sync` by cursor for transactions
(added and modified rows, removed ids, the next cursor), streamed one page per
call, the next page fetched on a worker thread while the current one is mapped;
the whole pagination loop restarts from the starting cursor when Plaid
reports a mutation during pagination, and the first page of the new pass says
`restart` so that the pages already handed over are discarded;
`/investments/holdings/get` joined to its securities for holdings.
Well-formed rows are read directly; anything unexpected goes through the
careful readers of providers.payload, whose errors name the field.

Plaid's amounts are positive for money out: they are negated here, so that a
positive amount means money into the account as everywhere else in FinSync.
The client id and secret come from settings (PLAID_CLIENT_ID, PLAID_SECRET,
PLAID_BASE_URL), read at call time; the access token is the connection's
encrypted credential. None of them appears in a message or a log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from providers import payload as p
from providers import plaid_rows as rows
from providers.base import (
    AccountData,
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    CredentialField,
    HoldingData,
    HoldingsResult,
    RemovedTransaction,
    TransactionData,
    TransactionsResult,
)
from providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderCredentialsInvalid,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.http import (
    HTTPProvider,
    HttpResponse,
    Prefetch,
    max_pages,
    parse_json,
    parse_retry_after,
    raise_for_status,
)
from providers.registry import register

logger = logging.getLogger("finsync.providers.plaid")

NAME = "Plaid"
API_VERSION = "2020-09-14"
PAGE_SIZE = 500  # the most /transactions/sync returns per call
MUTATION_RESTARTS = 3
MUTATION = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"
# The Item's login no longer works: the user must go through Link's update mode.
REAUTH_CODES = frozenset(
    {
        "ITEM_LOGIN_REQUIRED",
        "INVALID_ACCESS_TOKEN",
        "ITEM_NOT_FOUND",
        "ITEM_LOCKED",
        "ACCESS_NOT_GRANTED",
        "USER_PERMISSION_REVOKED",
        "INVALID_CREDENTIALS",
        "INVALID_MFA",
        "USER_SETUP_REQUIRED",
        "PASSWORD_RESET_REQUIRED",
        "PENDING_EXPIRATION",
        "ITEM_NOT_SUPPORTED",
    }
)
ACCOUNT_TYPES = {"brokerage": "investment"}
NOT_IDEMPOTENT = frozenset({"/item/public_token/exchange", "/link/token/create", "/item/remove"})
INVESTMENTS_PAGE_SIZE = 500  # the most /investments/transactions/get returns per call
# The Item has no investment data to give: no investment transactions, not an error.
NO_INVESTMENTS_CODES = frozenset(
    {"NO_INVESTMENT_ACCOUNTS", "PRODUCTS_NOT_SUPPORTED", "INVALID_PRODUCT", "PRODUCT_NOT_ENABLED"}
)
NEGATIVE_BALANCE_TYPES = {"credit", "loan"}  # Plaid's `current` is what is owed


def _token_option(options: Mapping[str, Any], name: str) -> str:
    """A token option as given (stripped), "" when absent; ProviderConfigError when it is not a token."""
    value = options.get(name) or ""
    if not isinstance(value, str):
        raise ProviderConfigError(f"the Plaid {name.replace('_', ' ')} must be text", field=name)
    value = value.strip()
    if len(value) > 512 or any(c.isspace() for c in value):
        raise ProviderConfigError(f"the Plaid {name.replace('_', ' ')} is not a token", field=name)
    return value


class _MutationDuringPagination(Exception):
    """Plaid's data changed between two pages: restart the loop from its first cursor."""


class PlaidAPIError(ProviderUnavailable):
    """A Plaid error that maps to no more specific class; `plaid_code` is Plaid's `error_code`."""

    def __init__(self, message: str, *, plaid_code: str) -> None:
        super().__init__(message)
        self.plaid_code = plaid_code


def _error(status: int, body: Any, headers: Mapping[str, str], secrets: tuple[str, ...] = ()) -> Exception | None:
    """The exception for a PlaidError body; None when the body is not one.

    Plaid's message may echo the request (the access token, the secret): those are
    removed here, and the sync core scrubs every form of them again.
    """
    if not isinstance(body, dict) or not isinstance(body.get("error_code"), str):
        return None
    code = body["error_code"]
    error_type = body.get("error_type") if isinstance(body.get("error_type"), str) else ""
    shown = body.get("display_message") or body.get("error_message") or ""
    detail = p.sanitize_message(shown, secrets=secrets) if isinstance(shown, str) else ""
    label = f"{code}{': ' + detail if detail else ''}"
    if code == MUTATION:
        return _MutationDuringPagination()
    if code in REAUTH_CODES:
        return ProviderAuthError(f"Plaid needs the user to log in to the institution again ({label})")
    if code == "INVALID_API_KEYS":
        return ProviderCredentialsInvalid("Plaid refused FinSync's client id or secret (INVALID_API_KEYS)")
    if status == 429 or error_type == "RATE_LIMIT_EXCEEDED" or code.endswith("_LIMIT"):
        retry_after = parse_retry_after(headers.get("Retry-After"))
        hint = f"; retry after {retry_after} seconds" if retry_after is not None else "; retry later"
        return ProviderRateLimited(f"Plaid is rate limiting this Item ({code}){hint}", retry_after=retry_after)
    if code == "PRODUCT_NOT_READY":
        return PlaidAPIError(
            "Plaid has not finished preparing this data yet (PRODUCT_NOT_READY); retry later", plaid_code=code
        )
    if error_type in ("INSTITUTION_ERROR", "API_ERROR") or status >= 500:
        return ProviderUnavailable(f"Plaid or the institution is unavailable ({label}); retry later")
    return PlaidAPIError(f"Plaid refused the request ({label})", plaid_code=code)


@register
class PlaidProvider(HTTPProvider):
    """Banks and brokerages through Plaid, transactions by cursor, with holdings."""

    slug = "plaid"
    display_name = "Plaid"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=True, transactions_mode="cursor")
    connect_fields = (
        CredentialField(
            name="public_token",
            help="Plaid public token from Link, exchanged once for the Item's access token",
            required=False,
            max_length=512,
        ),
        CredentialField(
            name="access_token", help="Plaid access token of the Item (operators)", required=False, max_length=512
        ),
    )

    @classmethod
    @sensitive_variables()
    def connect(cls, options: Mapping[str, Any], *, wide_bounds: bool = False) -> ConnectionSetup:
        """A public token from Link (exchanged here, once) or an operator's access token -> the Item's token."""
        public = _token_option(options, "public_token")
        token = _token_option(options, "access_token")
        if bool(public) == bool(token):
            raise ProviderConfigError(
                "give either the public token from Plaid Link or an access token", field="public_token"
            )
        if public:
            token = cls._exchange(public)
        adapter = cls(credentials={"access_token": token}, config={})
        try:
            body = adapter._post("/accounts/get", {})
        except ProviderAuthError:
            raise ProviderConfigError(
                "Plaid did not accept the access token; link the Item again", field="access_token"
            ) from None
        finally:
            adapter.close()
        item = body.get("item") if isinstance(body.get("item"), dict) else {}
        config = {
            "item_id": item.get("item_id") or "",
            "institution_id": item.get("institution_id") or "",
            "institution_name": item.get("institution_name") or "",
        }
        return ConnectionSetup(credentials={"access_token": token}, config=config)

    @classmethod
    @sensitive_variables()
    def _exchange(cls, public_token: str) -> str:
        """`/item/public_token/exchange`: the Item's access token; Plaid takes a public token once."""
        adapter = cls(credentials={}, config={})
        try:
            body = adapter._post("/item/public_token/exchange", {"public_token": public_token}, access_token=None)
        except PlaidAPIError as error:
            raise ProviderConfigError(
                f"Plaid refused the public token ({error.plaid_code}): it was already exchanged or has "
                "expired; open Plaid Link again",
                field="public_token",
            ) from None
        finally:
            adapter.close()
        token = body.get("access_token")
        if not isinstance(token, str) or not token or len(token) > 512:
            raise p.bad("access_token", "missing or not a token")
        return token

    @classmethod
    @sensitive_variables()
    def create_link_token(
        cls,
        *,
        client_user_id: str,
        client_name: str,
        language: str,
        country_codes: list[str],
        products: list[str],
        webhook: str = "",
        access_token: str = "",
    ) -> tuple[str, str]:
        """`/link/token/create`: (link_token, expiration). With `access_token`: Link's update mode for that Item."""
        request: dict[str, Any] = {
            "client_name": client_name,
            "language": language,
            "country_codes": country_codes,
            "user": {"client_user_id": client_user_id},
        }
        if access_token:
            request["access_token"] = access_token  # update mode: Plaid takes the Item's products
        else:
            request["products"] = products
        if webhook:
            request["webhook"] = webhook
        adapter = cls(credentials={}, config={})
        try:
            body = adapter._post("/link/token/create", request, access_token=None)
        finally:
            adapter.close()
        link_token = p.as_str(p.field(body, "link_token", "response"), "link_token")
        expiration = p.as_str(p.field(body, "expiration", "response"), "expiration")
        return link_token, expiration

    @classmethod
    def fetch_webhook_key(cls, key_id: str) -> dict:
        """`/webhook_verification_key/get`: the JWK Plaid signs webhooks with under `key_id`."""
        adapter = cls(credentials={}, config={})
        try:
            body = adapter._post("/webhook_verification_key/get", {"key_id": key_id}, access_token=None)
        finally:
            adapter.close()
        return p.as_object(p.field(body, "key", "response"), "key")

    def on_disconnect(self) -> dict:
        """`/item/remove`: Plaid stops billing and serving the Item; its access token is then forgotten."""
        self._post("/item/remove", {})
        return {}

    # --- requests ----------------------------------------------------------------

    _KEEP = object()

    def _post(self, path: str, body: dict, *, access_token: Any = _KEEP) -> dict:
        """A call to `path`; with the connection's access token unless `access_token=None` (app-level calls)."""
        return self._read(self._post_for_bytes(path, body, access_token=access_token), path)

    @staticmethod
    def _read(data: bytes, path: str) -> dict:
        return p.as_object(parse_json(data, f"Plaid {path}"), "response")

    def _post_for_bytes(self, path: str, body: dict, *, access_token: Any = _KEEP) -> bytes:
        """The body of a successful call to `path`, not yet read; Plaid's errors raised as ProviderErrors."""
        client_id, secret = settings.PLAID_CLIENT_ID, settings.PLAID_SECRET
        if not client_id or not secret:
            raise ProviderCredentialsInvalid("PLAID_CLIENT_ID and PLAID_SECRET are not configured")
        token = self.credentials.get("access_token") if access_token is self._KEEP else access_token
        if access_token is self._KEEP and (not isinstance(token, str) or not token):
            raise ProviderCredentialsInvalid("the Plaid connection has no access token; reconnect it")
        response: HttpResponse = self.http.request(
            "POST",
            settings.PLAID_BASE_URL.rstrip("/") + path,
            # Reads are safe to retry after a 5xx; an exchange, a link token or a removal is not.
            idempotent=path not in NOT_IDEMPOTENT,
            json_body={**body, "access_token": token} if token else body,
            headers={"PLAID-CLIENT-ID": client_id, "PLAID-SECRET": secret, "Plaid-Version": API_VERSION},
            what="PLAID_BASE_URL",
        )
        if response.ok:
            return response.body
        try:
            error_body = parse_json(response, f"Plaid {path}")
        except ProviderError:
            error_body = None
        hidden = tuple(x for x in (token, secret, body.get("public_token")) if isinstance(x, str) and x)
        error = _error(response.status, error_body, response.headers, secrets=hidden)
        if error is None:
            raise_for_status(response, NAME)
        logger.info("Plaid %s answered HTTP %s (%s)", path, response.status, type(error).__name__)
        raise error

    # --- mapping -----------------------------------------------------------------

    @staticmethod
    def _currency(raw: dict, path: str) -> str:
        code = rows.currency_field(raw.get)
        return rows.currency(p.as_str(code, f"{path}.iso_currency_code") if code else "")

    def _account(self, raw: dict, path: str) -> AccountData:
        account_id = p.as_id(p.field(raw, "account_id", path), f"{path}.account_id")
        balances = p.as_object(p.field(raw, "balances", path), f"{path}.balances")
        kind = p.as_str(p.field(raw, "type", path), f"{path}.type")
        current = p.as_decimal(balances.get("current"), f"{path}.balances.current", nullable=True)
        available = p.as_decimal(balances.get("available"), f"{path}.balances.available", nullable=True)
        if kind in NEGATIVE_BALANCE_TYPES and current is not None:
            current = -current
        return AccountData(
            provider_account_id=account_id,
            name=p.as_str(p.field(raw, "name", path), f"{path}.name") or (raw.get("official_name") or ""),
            type=ACCOUNT_TYPES.get(kind, kind),
            subtype=p.as_str(raw.get("subtype"), f"{path}.subtype", nullable=True),
            mask=p.as_str(raw.get("mask"), f"{path}.mask", nullable=True)[-4:],
            currency=self._currency(balances, f"{path}.balances"),
            balance=current,
            available_balance=available,
            balance_date=p.as_datetime(
                balances.get("last_updated_datetime"), f"{path}.balances.last_updated_datetime", nullable=True
            ),
        )

    def _transaction(self, raw: dict, path: str) -> TransactionData:
        """A Transaction object read field by field with the careful readers (errors name `path`)."""
        amount = p.as_decimal(p.field(raw, "amount", path), f"{path}.amount")
        return TransactionData(
            provider_transaction_id=p.as_id(p.field(raw, "transaction_id", path), f"{path}.transaction_id"),
            provider_account_id=p.as_id(p.field(raw, "account_id", path), f"{path}.account_id"),
            posted_date=p.as_date(p.field(raw, "date", path), f"{path}.date"),
            amount=rows.money_in(amount),
            currency=self._currency(raw, path),
            description=p.as_str(raw.get("name"), f"{path}.name", nullable=True)
            or p.as_str(raw.get("original_description"), f"{path}.original_description", nullable=True),
            payee=p.as_str(raw.get("merchant_name"), f"{path}.merchant_name", nullable=True),
            category=rows.category(raw.get),
            pending=p.as_bool(p.field(raw, "pending", path), f"{path}.pending"),
            transacted_at=p.as_datetime(rows.transacted_when(raw.get), f"{path}.datetime", nullable=True),
            pending_transaction_id=p.as_str(
                raw.get("pending_transaction_id"), f"{path}.pending_transaction_id", nullable=True
            ),
        )

    def _removed(self, raw: Any, path: str, changed: dict[str, TransactionData]) -> RemovedTransaction:
        """A removed entry; its account is that of the page's row with its id when the entry omits it.

        The row (if any) leaves `changed`: the removal comes after it on the page.
        """
        item = p.as_object(raw, path)
        transaction_id = p.as_id(p.field(item, "transaction_id", path), f"{path}.transaction_id")
        known = changed.pop(transaction_id, None)
        account_id = item.get("account_id") or (known.provider_account_id if known else None)
        if account_id is None:
            raise p.bad(f"{path}.account_id", "missing")
        return RemovedTransaction(
            provider_account_id=p.as_id(account_id, f"{path}.account_id"), provider_transaction_id=transaction_id
        )

    # --- the protocol ------------------------------------------------------------

    def fetch_accounts(self) -> AccountsResult:
        body = self._post("/accounts/get", {})
        raw = p.as_list(p.field(body, "accounts", "response"), "accounts")
        return AccountsResult(
            accounts=[self._account(p.as_object(a, f"accounts[{i}]"), f"accounts[{i}]") for i, a in enumerate(raw)]
        )

    def iter_transaction_pages(self, *, start=None, end=None, account_ids=None, cursor=None):
        """One page per `/transactions/sync` call, as it arrives.

        When Plaid reports a mutation during pagination, the update is fetched
        again from the starting cursor (at most MUTATION_RESTARTS tries) and the
        first page handed over after that carries `restart`, so that the consumer
        drops the pages of the abandoned pass.
        """
        first_cursor = cursor or ""
        handed_over = False  # pages of this update are with the consumer
        for _ in range(MUTATION_RESTARTS):
            restart = handed_over  # ... from an abandoned pass: the next page replaces them
            last = None
            try:
                for page in self._pages_from(first_cursor):
                    yield replace(page, restart=True) if restart else page
                    handed_over, restart, last = True, False, page
            except _MutationDuringPagination:
                logger.info("Plaid data changed during pagination; restarting from the first cursor")
                continue
            if start is not None and end is not None:
                yield from self._investment_pages(start, end, after=last)
            return
        raise ProviderUnavailable(
            f"Plaid's transactions kept changing during pagination ({MUTATION_RESTARTS} tries); retry later"
        )

    def _pages_from(self, first_cursor: str) -> Iterator[TransactionsResult]:
        """The pages of one pass from `first_cursor`, each mapped on its own.

        A worker thread requests and parses page k+1 while page k is mapped
        and with the consumer: one request in flight at most, two raw pages in
        memory at most, and only the worker uses `self.http` until the pass
        ends. An error of page k+1 therefore surfaces once page k is handed
        over; the consumer applies nothing before the last page.
        """
        limit = max_pages()
        with Prefetch("finsync-plaid") as worker:
            fetching: Future | None = worker.submit(self._sync_page, first_cursor)
            try:
                for number in range(1, limit + 1):
                    body, data = fetching.result()
                    fetching = None
                    following = rows.next_request(body)
                    if following is not None and following[1] and number < limit:
                        fetching = worker.submit(self._sync_page, following[0])
                    page, has_more = self._page(body, data, f"page {number}")
                    del body, data  # the raw page goes before the consumer gets the mapped one
                    yield page
                    if not has_more:
                        return
            finally:
                if fetching is not None:
                    fetching.cancel()  # not started yet: never sent; started: the shutdown waits for it
        raise ProviderUnavailable(f"Plaid had more than {limit} pages of changes; sync again to continue")

    def _sync_page(self, cursor: str) -> tuple[dict, bytes]:
        """One `/transactions/sync` call from `cursor` ("" for the start of the Item's history).

        Its answer read with only the fields the mapping needs (plaid_rows.read_sync_answer), or whole when
        it is not in the usual shape; and its bytes, for `_page` to read whole if a row is off.
        """
        request: dict[str, Any] = {"count": PAGE_SIZE}
        if cursor:
            request["cursor"] = cursor
        data = self._post_for_bytes("/transactions/sync", request)
        return rows.read_sync_answer(data) or self._read(data, "/transactions/sync"), data

    def _page(self, body: dict, data: bytes, where: str) -> tuple[TransactionsResult, bool]:
        """One `/transactions/sync` answer mapped, and whether Plaid has more; errors name `where` (page N).

        A decoded `Row` that the direct path does not take sends the whole page (`data`) to the careful
        readers, which need every field as sent.
        """
        accounts: dict[str, AccountData] = {}
        for i, raw in enumerate(p.as_list(p.field(body, "accounts", where), f"{where}.accounts")):
            account = self._account(p.as_object(raw, f"{where}.accounts[{i}]"), f"{where}.accounts[{i}]")
            accounts[account.provider_account_id] = account
        changed: dict[str, TransactionData] = {}
        for key in ("added", "modified"):
            for i, raw in enumerate(p.as_list(p.field(body, key, where), f"{where}.{key}")):
                mapped = rows.fast_transaction(raw)
                if mapped is None and type(raw) is rows.Row:
                    return self._page(self._read(data, "/transactions/sync"), data, where)
                if mapped is None:  # something is off: the careful readers name it (paths built only now)
                    path = f"{where}.{key}[{i}]"
                    mapped = self._transaction(p.as_object(raw, path), path)
                changed[mapped.provider_transaction_id] = mapped
        removed: dict[str, RemovedTransaction] = {}
        for i, raw in enumerate(p.as_list(p.field(body, "removed", where), f"{where}.removed")):
            item = rows.fast_removed(raw)
            if item is None:
                item = self._removed(raw, f"{where}.removed[{i}]", changed)
            else:
                changed.pop(item.provider_transaction_id, None)
            removed[item.provider_transaction_id] = item
        cursor = p.as_str(p.field(body, "next_cursor", where), f"{where}.next_cursor", nullable=True)
        has_more = p.as_bool(p.field(body, "has_more", where), f"{where}.has_more")
        page = TransactionsResult(
            transactions=list(changed.values()),
            removed=list(removed.values()),
            accounts_covered=list(accounts),
            accounts=list(accounts.values()),
            # "" means Plaid has nothing yet: keep the stored cursor.
            next_cursor=cursor or None,
        )
        return page, has_more

    def _investment_pages(self, start, end, *, after: TransactionsResult | None) -> Iterator[TransactionsResult]:
        """`/investments/transactions/get` for [start, end], by offset, one page per call.

        The first call covers every investment account of the Item; the following
        ones ask for the accounts it named, until `total_investment_transactions`
        rows have come. Each page carries the cursor and accounts of the last
        `/transactions/sync` page (`after`), which the consumer keeps from the last page.
        """
        cursor = after.next_cursor if after else None
        covered = list(after.accounts_covered) if after else []
        offset, account_ids, limit = 0, None, max_pages()
        for number in range(1, limit + 1):
            options: dict[str, Any] = {"count": INVESTMENTS_PAGE_SIZE, "offset": offset}
            if account_ids is not None:
                options["account_ids"] = account_ids
            request = {"start_date": start.isoformat(), "end_date": end.isoformat(), "options": options}
            try:
                body = self._post("/investments/transactions/get", request)
            except PlaidAPIError as error:
                if error.plaid_code in NO_INVESTMENTS_CODES:
                    return
                if error.plaid_code == "PRODUCT_NOT_READY" and number == 1:
                    warning = "Plaid has not prepared the investment transactions yet; the next sync fetches them"
                    yield TransactionsResult(
                        transactions=[], accounts_covered=covered, next_cursor=cursor, warnings=[warning]
                    )
                    return
                raise
            page, total, ids = self._investment_page(body, f"investments page {number}")
            account_ids = account_ids if account_ids is not None else ids
            covered = [*covered, *(i for i in ids if i not in covered)]
            offset += len(page.transactions)
            yield replace(page, accounts_covered=covered, next_cursor=cursor)
            if offset >= total or not page.transactions:
                return
        raise ProviderUnavailable(f"Plaid had more than {limit} pages of investment transactions; sync again")

    def _investment_page(self, body: dict, where: str) -> tuple[TransactionsResult, int, list[str]]:
        """One `/investments/transactions/get` answer: its rows joined to their securities, the total, the accounts."""
        accounts = [
            self._account(p.as_object(raw, f"{where}.accounts[{i}]"), f"{where}.accounts[{i}]")
            for i, raw in enumerate(p.as_list(p.field(body, "accounts", where), f"{where}.accounts"))
        ]
        securities: dict[str, dict] = {}
        for i, raw in enumerate(p.as_list(p.field(body, "securities", where), f"{where}.securities")):
            path = f"{where}.securities[{i}]"
            security = p.as_object(raw, path)
            securities[p.as_id(p.field(security, "security_id", path), f"{path}.security_id")] = security
        rows_ = p.as_list(p.field(body, "investment_transactions", where), f"{where}.investment_transactions")
        transactions = [
            rows.investment_transaction(
                p.as_object(raw, f"{where}.investment_transactions[{i}]"),
                securities,
                f"{where}.investment_transactions[{i}]",
            )
            for i, raw in enumerate(rows_)
        ]
        total = p.as_decimal(
            p.field(body, "total_investment_transactions", where), f"{where}.total_investment_transactions"
        )
        ids = [a.provider_account_id for a in accounts]
        return TransactionsResult(transactions=transactions, accounts=accounts), int(total or 0), ids

    def fetch_holdings(self, *, account_id: str) -> HoldingsResult:
        try:
            body = self._post("/investments/holdings/get", {"options": {"account_ids": [account_id]}})
        except PlaidAPIError as error:
            if error.plaid_code == "NO_INVESTMENT_ACCOUNTS":
                return HoldingsResult(holdings=[])
            raise
        securities = {}
        for i, raw in enumerate(p.as_list(p.field(body, "securities", "response"), "securities")):
            security = p.as_object(raw, f"securities[{i}]")
            securities[
                p.as_id(p.field(security, "security_id", f"securities[{i}]"), f"securities[{i}].security_id")
            ] = security
        account = None
        for i, raw in enumerate(p.as_list(p.field(body, "accounts", "response"), "accounts")):
            mapped = self._account(p.as_object(raw, f"accounts[{i}]"), f"accounts[{i}]")
            if mapped.provider_account_id == account_id:
                account = mapped
        holdings = []
        for i, raw in enumerate(p.as_list(p.field(body, "holdings", "response"), "holdings")):
            path = f"holdings[{i}]"
            holding = p.as_object(raw, path)
            if p.as_id(p.field(holding, "account_id", path), f"{path}.account_id") != account_id:
                continue
            security_id = p.as_id(p.field(holding, "security_id", path), f"{path}.security_id")
            security = securities.get(security_id)
            if security is None:
                raise p.bad(f"{path}.security_id", "no such security in the response")
            holdings.append(self._holding(holding, security, path, account_id))
        return HoldingsResult(holdings=holdings, account=account)

    def _holding(self, raw: dict, security: dict, path: str, account_id: str) -> HoldingData:
        as_of = p.as_datetime(
            raw.get("institution_price_datetime"), f"{path}.institution_price_datetime", nullable=True
        )
        if as_of is None:
            day = p.as_date(raw.get("institution_price_as_of"), f"{path}.institution_price_as_of", nullable=True)
            as_of = datetime.combine(day, time.min, tzinfo=UTC) if day else None
        return HoldingData(
            provider_holding_id=f"{account_id}:{security['security_id']}",
            provider_account_id=account_id,
            symbol=p.as_str(security.get("ticker_symbol"), "security.ticker_symbol", nullable=True),
            name=p.as_str(security.get("name"), "security.name", nullable=True),
            asset_type=p.as_str(security.get("type"), "security.type", nullable=True),
            quantity=p.as_decimal(p.field(raw, "quantity", path), f"{path}.quantity"),
            price=p.as_decimal(p.field(raw, "institution_price", path), f"{path}.institution_price"),
            cost_basis=p.as_decimal(raw.get("cost_basis"), f"{path}.cost_basis", nullable=True),
            market_value=p.as_decimal(p.field(raw, "institution_value", path), f"{path}.institution_value"),
            currency=self._currency(raw, path),
            as_of=as_of,
        )
