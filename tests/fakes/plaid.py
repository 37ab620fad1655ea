"""A Plaid API (2020-09-14) as a WSGI app: /accounts/get, /transactions/sync, /investments/holdings/get,
/investments/transactions/get, /link/token/create, /item/public_token/exchange, /item/remove and
/webhook_verification_key/get, with a signer for webhooks (ES256 JWTs, as Plaid sends them).

Responses carry every field the OpenAPI schema requires, with its exact
nullability (tests validate them against the published schema). Each Item
keeps an append-only log of transaction events; a cursor is an opaque token
holding an offset into it.

    fake = PlaidFake()
    item = fake.add_item("access-sandbox-1")
    item.add_account("acc-chk", "Checking", current=110, available=100)
    item.add(transaction("tx-1", "acc-chk", 12.5, date(2026, 6, 1), "Cafe"))
    with LiveServer(fake) as server:
        settings.PLAID_BASE_URL = server.url
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tests.fakes.server import Fault, FaultQueue, RecordedRequest, respond

JSON = {"Content-Type": "application/json"}
MUTATION = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"
COMMON_FIELDS = {"client_id", "secret", "access_token"}
ALLOWED_FIELDS = {
    "/accounts/get": COMMON_FIELDS | {"options"},
    "/transactions/sync": COMMON_FIELDS | {"cursor", "count", "options"},
    "/investments/holdings/get": COMMON_FIELDS | {"options"},
    "/investments/transactions/get": COMMON_FIELDS | {"start_date", "end_date", "options"},
    "/item/remove": COMMON_FIELDS | {"reason_code", "reason_note"},
    # App-level calls: no access token (link token's is optional: update mode).
    "/link/token/create": COMMON_FIELDS
    | {"client_name", "language", "country_codes", "user", "products", "webhook", "redirect_uri"},
    "/item/public_token/exchange": {"client_id", "secret", "public_token"},
    "/webhook_verification_key/get": {"client_id", "secret", "key_id"},
}
APP_LEVEL = {"/link/token/create", "/item/public_token/exchange", "/webhook_verification_key/get"}


def _request_id() -> str:
    return secrets.token_hex(8)


class RawJSON(bytes):
    """A JSON value already encoded (UTF-8 bytes), exactly as `json.dumps(...).encode()` would give it.

    An Item's event log may give these instead of Transaction dicts (the
    benchmark's lazy log renders its rows straight to JSON): the page is then
    spliced together instead of encoded object by object. Bytes, not str, so
    that `json.dumps` refuses it rather than quoting it.
    """

    __slots__ = ()


def encode(body: Any) -> bytes:
    """`json.dumps(body).encode()`, with RawJSON items of the body's top-level lists spliced in as they are
    (and a RawJSON body as it is)."""
    if isinstance(body, RawJSON):
        return bytes(body)
    if not isinstance(body, dict) or not any(isinstance(v, list) and _holds_raw(v) for v in body.values()):
        return json.dumps(body).encode()
    members = (
        json.dumps(key).encode()
        + b": "
        + (_encode_list(value) if isinstance(value, list) else json.dumps(value).encode())
        for key, value in body.items()
    )
    return b"{" + b", ".join(members) + b"}"


def _holds_raw(values: list) -> bool:
    return any(isinstance(v, RawJSON) for v in values)


def _encode_list(values: list) -> bytes:
    if not _holds_raw(values):
        return json.dumps(values).encode()
    return b"[" + b", ".join(v if isinstance(v, RawJSON) else json.dumps(v).encode() for v in values) + b"]"


def plaid_error(error_type: str, error_code: str, message: str = "", status: int = 400) -> Fault:
    """A Fault answering with a PlaidError body (use with PlaidFake.fail_next)."""
    body = {
        "error_type": error_type,
        "error_code": error_code,
        "error_message": message or error_code.lower().replace("_", " "),
        "display_message": None,
        "request_id": _request_id(),
    }
    return Fault(status=status, body=json.dumps(body).encode(), headers=dict(JSON))


def transaction(
    transaction_id: str,
    account_id: str,
    amount: float | str,
    day: date,
    name: str,
    *,
    pending: bool = False,
    pending_transaction_id: str | None = None,
    merchant_name: str | None = None,
    category: str | None = "GENERAL_MERCHANDISE",
    currency: str = "USD",
) -> dict:
    """A Transaction object with every required key (Plaid sign: positive = money out)."""
    nulls8 = ("address", "city", "region", "postal_code", "country", "lat", "lon", "store_number")
    meta8 = ("reference_number", "ppd_id", "payee", "by_order_of", "payer", "payment_method", "payment_processor")
    return {
        "transaction_id": transaction_id,
        "account_id": account_id,
        "amount": float(amount),
        "iso_currency_code": currency,
        "unofficial_currency_code": None,
        "date": day.isoformat(),
        "authorized_date": day.isoformat(),
        "authorized_datetime": None,
        "datetime": None,
        "pending": pending,
        "pending_transaction_id": pending_transaction_id,
        "account_owner": None,
        "name": name,
        "merchant_name": merchant_name,
        "merchant_entity_id": None,
        "logo_url": None,
        "website": None,
        "check_number": None,
        "payment_channel": "in store",
        "payment_meta": {**dict.fromkeys(meta8), "reason": None},
        "location": dict.fromkeys(nulls8),
        "transaction_code": None,
        "transaction_type": "place",
        "category": None,
        "category_id": None,
        "personal_finance_category": None
        if category is None
        else {"primary": category, "detailed": f"{category}_OTHER", "confidence_level": "HIGH"},
    }


@dataclass
class FakeItem:
    access_token: str
    item_id: str
    accounts: list[dict] = field(default_factory=list)
    events: list[tuple[str, dict]] = field(default_factory=list)  # ("added" | "modified" | "removed", object)
    holdings: list[dict] = field(default_factory=list)
    securities: list[dict] = field(default_factory=list)
    investment_transactions: list[dict] = field(default_factory=list)
    login_required: bool = False
    # On the next mid-pagination call: append these events and answer MUTATION_DURING_PAGINATION.
    pending_mutation: list[tuple[str, dict]] | None = None

    def add_account(
        self,
        account_id: str,
        name: str,
        *,
        type: str = "depository",
        subtype: str | None = "checking",
        current: float | None = 0.0,
        available: float | None = None,
        mask: str | None = "0000",
    ) -> dict:
        account = {
            "account_id": account_id,
            "balances": {
                "available": available,
                "current": current,
                "limit": None,
                "iso_currency_code": "USD",
                "unofficial_currency_code": None,
            },
            "mask": mask,
            "name": name,
            "official_name": None,
            "type": type,
            "subtype": subtype,
            "holder_category": "personal",
        }
        self.accounts.append(account)
        return account

    def add(self, data: dict) -> None:
        self.events.append(("added", data))

    def modify(self, data: dict) -> None:
        self.events.append(("modified", data))

    def remove(self, transaction_id: str, account_id: str) -> None:
        self.events.append(("removed", {"transaction_id": transaction_id, "account_id": account_id}))

    def add_holding(self, account_id: str, security: dict, *, quantity: float, price: float, cost_basis=None) -> None:
        if all(s["security_id"] != security["security_id"] for s in self.securities):
            self.securities.append(security)
        self.holdings.append(
            {
                "account_id": account_id,
                "security_id": security["security_id"],
                "institution_price": price,
                "institution_price_as_of": "2026-06-12",
                "institution_price_datetime": None,
                "institution_value": round(quantity * price, 2),
                "cost_basis": cost_basis,
                "quantity": quantity,
                "iso_currency_code": "USD",
                "unofficial_currency_code": None,
                "vested_quantity": None,
                "vested_value": None,
            }
        )

    def add_investment_transaction(self, data: dict, security: dict | None = None) -> None:
        """An InvestmentTransaction (see investment_transaction) and the Security it is about."""
        if security is not None and all(s["security_id"] != security["security_id"] for s in self.securities):
            self.securities.append(security)
        self.investment_transactions.append(data)

    def item(self) -> dict:
        return {
            "item_id": self.item_id,
            "institution_id": "ins_109508",
            "institution_name": "First Platypus Bank",
            "webhook": None,
            "error": None,
            "available_products": ["balance"],
            "billed_products": ["investments", "transactions"],
            "consent_expiration_time": None,
            "update_type": "background",
        }


def security(security_id: str, name: str, ticker: str | None, type: str, close: float | None, **extra) -> dict:
    """A Security with every required (nullable) key."""
    data = dict.fromkeys(
        (
            "isin",
            "cusip",
            "sedol",
            "institution_security_id",
            "institution_id",
            "proxy_security_id",
            "close_price_as_of",
            "unofficial_currency_code",
            "market_identifier_code",
            "sector",
            "industry",
            "cfi_code",
            "option_contract",
            "fixed_income",
        )
    )
    data.update(
        security_id=security_id,
        name=name,
        ticker_symbol=ticker,
        is_cash_equivalent=type == "cash",
        type=type,
        close_price=close,
        iso_currency_code="USD",
        **extra,
    )
    return data


class PlaidFake:
    """State and behaviour of a Plaid environment; a WSGI callable."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        secret: str = "fake-plaid-secret-0123",  # noqa: S107 - a fake server's made-up credential
    ) -> None:
        self.client_id = client_id
        self.secret = secret
        self.items: dict[str, FakeItem] = {}
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        # (path, status, body) of JSON answers; RawJSON items (see encode) stay as they were served.
        self.responses: list[tuple[str, int, dict]] = []
        # Serve at most this many events per /transactions/sync page (Plaid may return fewer than `count`).
        self.page_size: int | None = None
        # public_token -> access_token, until exchanged (once); link tokens made: their requests.
        self.public_tokens: dict[str, str] = {}
        self.link_tokens: list[dict] = []
        self.removed_items: list[str] = []
        # kid -> (JWK, private key): the keys webhooks are signed with.
        self.webhook_keys: dict[str, tuple[dict, Any]] = {}
        self._lock = threading.Lock()

    def add_item(self, access_token: str, item_id: str = "item-1") -> FakeItem:
        item = FakeItem(access_token=access_token, item_id=item_id)
        self.items[access_token] = item
        return item

    def add_public_token(self, public_token: str, item: FakeItem) -> None:
        """A public token Link would hand the app for `item` (exchangeable once)."""
        self.public_tokens[public_token] = item.access_token

    def add_webhook_key(self, kid: str, private_key, *, expired: bool = False) -> dict:
        """Serve the public half of `private_key` (an EC P-256 key) as Plaid's verification key `kid`."""
        from jwt.algorithms import ECAlgorithm

        jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
        jwk.update(alg="ES256", kid=kid, use="sig", created_at=1767225600, expired_at=1767312000 if expired else None)
        self.webhook_keys[kid] = (jwk, private_key)
        return jwk

    def sign_webhook(
        self,
        body: bytes,
        *,
        kid: str,
        private_key=None,
        iat: int | None = None,
        algorithm: str = "ES256",
        body_sha256: str | None = None,
    ) -> str:
        """A Plaid-Verification JWT for `body`, signed with `kid`'s key (or `private_key`), as Plaid makes them."""
        import hashlib
        import time

        import jwt

        key = private_key if private_key is not None else self.webhook_keys[kid][1]
        claims = {
            "iat": int(time.time()) if iat is None else iat,
            "request_body_sha256": body_sha256 or hashlib.sha256(body).hexdigest(),
        }
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    def fail_next(self, fault: Fault | None = None, **fields) -> None:
        """Script the next answer: a Fault (e.g. plaid_error(...)), its fields overridden by `fields`."""
        fault = fault or Fault()
        for name, value in fields.items():
            setattr(fault, name, value)
        self.faults.add(fault)

    def sync_requests(self) -> list[dict]:
        return [json.loads(r.body) for r in self.requests if r.path == "/transactions/sync"]

    # --- WSGI ------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self._lock:
            self.requests.append(RecordedRequest(environ["REQUEST_METHOD"], path, [], headers, raw))
        fault = self.faults.take(path)
        if fault is not None and fault.status is not None and fault.body is not None:
            return respond(start_response, 200, b"", JSON, fault)
        status, body = self._answer(environ, path, raw)
        with self._lock:
            self.responses.append((path, status, body))
        return respond(start_response, status, encode(body), dict(JSON), fault)

    def _answer(self, environ, path: str, raw: bytes) -> tuple[int, dict]:
        if environ["REQUEST_METHOD"] != "POST" or path not in ALLOWED_FIELDS:
            return self._error(404, "INVALID_REQUEST", "UNKNOWN_ENDPOINT", "unknown endpoint")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._error(400, "INVALID_REQUEST", "INVALID_BODY", "body could not be parsed as JSON")
        if not isinstance(body, dict):
            return self._error(400, "INVALID_REQUEST", "INVALID_BODY", "body must be a JSON object")
        unknown = set(body) - ALLOWED_FIELDS[path]
        if unknown:
            return self._error(400, "INVALID_REQUEST", "UNKNOWN_FIELDS", f"unknown fields: {sorted(unknown)}")
        client_id = environ.get("HTTP_PLAID_CLIENT_ID") or body.get("client_id")
        secret = environ.get("HTTP_PLAID_SECRET") or body.get("secret")
        if not client_id or not secret or (path not in APP_LEVEL and "access_token" not in body):
            return self._error(400, "INVALID_REQUEST", "MISSING_FIELDS", "missing required fields")
        if (client_id, secret) != (self.client_id, self.secret):
            return self._error(400, "INVALID_INPUT", "INVALID_API_KEYS", "invalid client_id or secret provided")
        if path in APP_LEVEL:
            return self._app_level(path, body)
        item = self.items.get(body["access_token"])
        if item is None:
            return self._error(400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "provided access token is invalid")
        if item.login_required:
            return self._error(400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "the login details of this item have changed")
        return self._item_level(path, item, body)

    def _item_level(self, path: str, item: FakeItem, body: dict) -> tuple[int, dict]:
        if path == "/accounts/get":
            return self._accounts(item, body)
        if path == "/transactions/sync":
            return self._sync(item, body)
        if path == "/investments/transactions/get":
            return self._investment_transactions(item, body)
        if path == "/item/remove":
            del self.items[item.access_token]
            self.removed_items.append(item.item_id)
            return 200, {"request_id": _request_id()}
        return self._holdings(item, body)

    def _app_level(self, path: str, body: dict) -> tuple[int, dict]:
        if path == "/item/public_token/exchange":
            access_token = self.public_tokens.pop(body.get("public_token"), None)
            if access_token is None or access_token not in self.items:
                return self._error(400, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN", "provided public token is invalid")
            item = self.items[access_token]
            return 200, {"access_token": access_token, "item_id": item.item_id, "request_id": _request_id()}
        if path == "/webhook_verification_key/get":
            found = self.webhook_keys.get(body.get("key_id"))
            if found is None:
                return self._error(
                    400, "INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "invalid key_id provided"
                )
            return 200, {"key": found[0], "request_id": _request_id()}
        return self._link_token(body)

    def _link_token(self, body: dict) -> tuple[int, dict]:
        user = body.get("user")
        required_ok = (
            isinstance(body.get("client_name"), str)
            and isinstance(body.get("language"), str)
            and isinstance(body.get("country_codes"), list)
            and isinstance(user, dict)
            and isinstance(user.get("client_user_id"), str)
        )
        if not required_ok:
            return self._error(400, "INVALID_REQUEST", "MISSING_FIELDS", "missing required fields")
        if "access_token" in body and body["access_token"] not in self.items:
            return self._error(400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "provided access token is invalid")
        if "access_token" not in body and not body.get("products"):
            return self._error(400, "INVALID_REQUEST", "INVALID_FIELD", "products must be set outside update mode")
        self.link_tokens.append(body)
        token = f"link-sandbox-{secrets.token_hex(8)}"
        return 200, {"link_token": token, "expiration": "2026-06-15T12:00:00Z", "request_id": _request_id()}

    def _investment_transactions(self, item: FakeItem, body: dict) -> tuple[int, dict]:
        investment = [a for a in item.accounts if a["type"] == "investment"]
        if not investment:
            return self._error(400, "ITEM_ERROR", "NO_INVESTMENT_ACCOUNTS", "no investment accounts")
        options = body.get("options") or {}
        count, offset = options.get("count", 100), options.get("offset", 0)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 500:
            return self._error(400, "INVALID_REQUEST", "INVALID_FIELD", "count must be an integer from 1 to 500")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            return self._error(400, "INVALID_REQUEST", "INVALID_FIELD", "offset must be a non-negative integer")
        try:
            start, end = date.fromisoformat(body["start_date"]), date.fromisoformat(body["end_date"])
        except (KeyError, TypeError, ValueError):
            return self._error(400, "INVALID_REQUEST", "INVALID_FIELD", "start_date and end_date are required")
        wanted = options.get("account_ids")
        accounts = [
            {**a, "balances": {**a["balances"], "margin_loan_amount": None}}
            for a in investment
            if wanted is None or a["account_id"] in wanted
        ]
        ids = {a["account_id"] for a in accounts}
        matching = sorted(
            (
                t
                for t in item.investment_transactions
                if t["account_id"] in ids and start <= date.fromisoformat(t["date"]) <= end
            ),
            key=lambda t: (t["date"], t["investment_transaction_id"]),
            reverse=True,
        )
        page = matching[offset : offset + min(count, self.page_size or count)]
        used = {t["security_id"] for t in page}
        return 200, {
            "item": item.item(),
            "accounts": accounts,
            "securities": [s for s in item.securities if s["security_id"] in used],
            "investment_transactions": page,
            "total_investment_transactions": len(matching),
            "request_id": _request_id(),
        }

    @staticmethod
    def _error(status: int, error_type: str, code: str, message: str) -> tuple[int, dict]:
        return status, {
            "error_type": error_type,
            "error_code": code,
            "error_message": message,
            "display_message": None,
            "request_id": _request_id(),
        }

    def _accounts(self, item: FakeItem, body: dict) -> tuple[int, dict]:
        wanted = (body.get("options") or {}).get("account_ids")
        accounts = [a for a in item.accounts if wanted is None or a["account_id"] in wanted]
        return 200, {"accounts": accounts, "item": item.item(), "request_id": _request_id()}

    def _sync(self, item: FakeItem, body: dict) -> tuple[int, dict]:
        count = body.get("count", 100)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 500:
            return self._error(400, "INVALID_REQUEST", "INVALID_FIELD", "count must be an integer from 1 to 500")
        cursor = body.get("cursor") or ""
        try:
            state = json.loads(base64.urlsafe_b64decode(cursor)) if cursor else {"o": 0, "mid": False}
            offset = int(state["o"])
        except (ValueError, KeyError, TypeError):
            return self._error(400, "INVALID_INPUT", "INVALID_FIELD", "cursor is invalid")
        if state.get("mid") and item.pending_mutation is not None:
            item.events.extend(item.pending_mutation)
            item.pending_mutation = None
            return self._error(400, "TRANSACTIONS_ERROR", MUTATION, "Underlying transaction data changed")
        page = item.events[offset : offset + min(count, self.page_size or count)]
        has_more = offset + len(page) < len(item.events)
        next_cursor = base64.urlsafe_b64encode(json.dumps({"o": offset + len(page), "mid": has_more}).encode()).decode()
        grouped: dict[str, list[dict]] = {"added": [], "modified": [], "removed": []}
        for kind, data in page:
            grouped[kind].append(data)
        accounts = [a for a in item.accounts if a["type"] not in ("investment", "brokerage")]
        return 200, {
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
            "accounts": accounts,
            **grouped,
            "next_cursor": next_cursor,
            "has_more": has_more,
            "request_id": _request_id(),
        }

    def _holdings(self, item: FakeItem, body: dict) -> tuple[int, dict]:
        investment = [a for a in item.accounts if a["type"] == "investment"]
        if not investment:
            return self._error(400, "ITEM_ERROR", "NO_INVESTMENT_ACCOUNTS", "no investment accounts")
        wanted = (body.get("options") or {}).get("account_ids")
        known = {a["account_id"] for a in item.accounts}
        if wanted is not None and not set(wanted) <= known:
            return self._error(400, "INVALID_INPUT", "INVALID_ACCOUNT_ID", "one or more account ids are invalid")
        # InvestmentAccount balances add the (required, nullable) margin_loan_amount.
        accounts = [
            {**a, "balances": {**a["balances"], "margin_loan_amount": None}}
            for a in investment
            if wanted is None or a["account_id"] in wanted
        ]
        ids = {a["account_id"] for a in accounts}
        holdings = [h for h in item.holdings if h["account_id"] in ids]
        used = {h["security_id"] for h in holdings}
        return 200, {
            "accounts": accounts,
            "holdings": holdings,
            "securities": [s for s in item.securities if s["security_id"] in used],
            "item": item.item(),
            "request_id": _request_id(),
        }


def encode_cursor(offset: int) -> str:
    """A cursor at `offset` of an Item's log (tests that start mid-history)."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "mid": False}).encode()).decode()


def investment_transaction(
    transaction_id: str,
    account_id: str,
    day: date,
    *,
    type: str,
    subtype: str,
    amount: float,
    security_id: str | None = None,
    quantity: float = 0.0,
    price: float = 0.0,
    fees: float | None = 0.0,
    name: str = "",
) -> dict:
    """An InvestmentTransaction with every required key (Plaid sign: positive = cash out, e.g. a buy)."""
    return {
        "investment_transaction_id": transaction_id,
        "account_id": account_id,
        "security_id": security_id,
        "date": day.isoformat(),
        "name": name or f"{subtype} {security_id or ''}".strip(),
        "quantity": quantity,
        "amount": amount,
        "price": price,
        "fees": fees,
        "type": type,
        "subtype": subtype,
        "iso_currency_code": "USD",
        "unofficial_currency_code": None,
    }
