"""A SimpleFIN server (protocol v1 plus the Bridge's extensions) as a WSGI app.

Endpoints, relative to the root: `GET /info`, `POST /claim/<token>` (single
use: 403 afterwards) and `GET /accounts` (Basic auth; `start-date` inclusive,
`end-date` exclusive, `pending=1`, repeatable `account=`, `balances-only=1`,
`version=2` for `errlist`). Amounts and balances are numeric strings, epochs
integers, pending rows have `posted: 0`.

    fake = SimpleFINFake()
    account = fake.add_account("acct-1", "Checking", balance="100.00")
    fake.add_transaction("acct-1", "t1", posted=date(2026, 6, 1), amount="-12.50", description="Cafe")
    with LiveServer(fake) as server:
        token = fake.setup_token(server.url)        # or fake.access_url(server.url)
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from urllib.parse import parse_qsl

from tests.fakes.server import Fault, FaultQueue, RecordedRequest, respond

JSON = {"Content-Type": "application/json"}


def epoch(day: date | datetime) -> int:
    """Epoch seconds of a date (noon UTC, safely inside the day) or an aware datetime."""
    if isinstance(day, datetime):
        return int(day.timestamp())
    return int(datetime.combine(day, time(12, 0), tzinfo=UTC).timestamp())


@dataclass
class FakeTransaction:
    id: str
    posted: int  # 0 while pending
    amount: str
    description: str
    transacted_at: int | None = None
    pending: bool = False
    payee: str | None = None
    memo: str | None = None

    def wire(self) -> dict:
        data = {"id": self.id, "posted": self.posted, "amount": self.amount, "description": self.description}
        if self.transacted_at is not None:
            data["transacted_at"] = self.transacted_at
        if self.pending:
            data["pending"] = True
        if self.payee is not None:
            data["payee"] = self.payee
        if self.memo is not None:
            data["memo"] = self.memo
        return data

    @property
    def when(self) -> int:
        """The instant the server filters the window on (None: undated, always reported)."""
        when = self.posted or self.transacted_at
        return when if isinstance(when, int) and when else None


@dataclass
class FakeAccount:
    id: str
    name: str
    currency: str = "USD"
    balance: str = "0.00"
    available_balance: str | None = None
    balance_date: int = 1781438400  # 2026-06-14T12:00Z
    org: dict = field(default_factory=lambda: {"domain": "bank.example", "sfin-url": "https://sfin.bank.example"})
    transactions: dict[str, FakeTransaction] = field(default_factory=dict)
    holdings: list[dict] | None = None  # set for investment accounts


class SimpleFINFake:
    """State and behaviour of one SimpleFIN server; a WSGI callable."""

    def __init__(
        self,
        *,
        username: str = "sf-user",
        password: str = "sf-pass-s3cret",  # noqa: S107 - a fake server's made-up credential
        max_window_days: int = 60,
    ):
        self.username = username
        self.password = password
        self.max_window_days = max_window_days
        self.accounts: dict[str, FakeAccount] = {}
        self.claims: dict[str, bool] = {}  # token -> claimed
        self.errors: list[str] = []
        self.errlist: list[dict] = []
        self.revoked = False
        self.faults = FaultQueue()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    # --- test set-up -----------------------------------------------------------

    def add_account(self, account_id: str, name: str, **fields) -> FakeAccount:
        account = FakeAccount(id=account_id, name=name, **fields)
        self.accounts[account_id] = account
        return account

    def add_transaction(
        self,
        account_id: str,
        transaction_id: str,
        *,
        amount: str,
        description: str = "",
        posted: date | datetime | None = None,
        transacted_at: date | datetime | None = None,
        pending: bool = False,
        payee: str | None = None,
    ) -> FakeTransaction:
        transaction = FakeTransaction(
            id=transaction_id,
            posted=0 if pending or posted is None else epoch(posted),
            amount=amount,
            description=description,
            transacted_at=None if transacted_at is None else epoch(transacted_at),
            pending=pending,
            payee=payee,
        )
        self.accounts[account_id].transactions[transaction_id] = transaction
        return transaction

    def remove_transaction(self, account_id: str, transaction_id: str) -> None:
        del self.accounts[account_id].transactions[transaction_id]

    def fail_next(self, **fault) -> None:
        """Script the next request's answer, e.g. fail_next(status=500) or fail_next(sleep=1)."""
        self.faults.add(Fault(**fault))

    def setup_token(self, root: str, token: str = "demo-claim") -> str:  # noqa: S107 - a claim path, not a secret
        """A base64 setup token that claims at this server."""
        self.claims.setdefault(token, False)
        return base64.b64encode(f"{root}/claim/{token}".encode()).decode()

    def access_url(self, root: str) -> str:
        scheme, rest = root.split("://", 1)
        return f"{scheme}://{self.username}:{self.password}@{rest}"

    def accounts_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/accounts"]

    # --- WSGI ------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self._lock:
            self.requests.append(RecordedRequest(environ["REQUEST_METHOD"], path, query, headers, body))
        fault = self.faults.take(path)
        status, payload, extra = self._answer(environ["REQUEST_METHOD"], path, query, environ)
        return respond(start_response, status, payload, extra, fault)

    def _answer(self, method, path, query, environ) -> tuple[int, bytes, dict]:
        if path == "/info" and method == "GET":
            return 200, json.dumps({"versions": ["1.0"]}).encode(), JSON
        if path.startswith("/claim/") and method == "POST":
            token = path.removeprefix("/claim/")
            with self._lock:
                if token not in self.claims or self.claims[token]:
                    return 403, b"Forbidden", {"Content-Type": "text/plain"}
                self.claims[token] = True
            root = f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}"
            return 200, self.access_url(root).encode(), {"Content-Type": "text/plain"}
        if path == "/accounts" and method == "GET":
            if self.revoked or not self._authorised(environ):
                return 403, b"Forbidden", {"Content-Type": "text/plain"}
            return self._accounts(query)
        return 404, b"Not Found", {"Content-Type": "text/plain"}

    def _authorised(self, environ) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def _accounts(self, query) -> tuple[int, bytes, dict]:
        params: dict[str, list[str]] = {}
        for key, value in query:
            params.setdefault(key, []).append(value)
        start = int(params["start-date"][0]) if "start-date" in params else None
        end = int(params["end-date"][0]) if "end-date" in params else None
        if start is not None and end is not None and end - start > self.max_window_days * 86400:
            message = f"date range exceeds {self.max_window_days} days"
            return 400, json.dumps({"errors": [message], "accounts": []}).encode(), JSON
        pending = params.get("pending") == ["1"]
        balances_only = params.get("balances-only") == ["1"]
        wanted = set(params.get("account", []))
        accounts = []
        for account in self.accounts.values():
            if wanted and account.id not in wanted:
                continue
            data = {
                "org": account.org,
                "id": account.id,
                "name": account.name,
                "currency": account.currency,
                "balance": account.balance,
                "balance-date": account.balance_date,
            }
            if account.available_balance is not None:
                data["available-balance"] = account.available_balance
            if not balances_only:
                rows = [
                    t
                    for t in account.transactions.values()
                    if (pending or not t.pending)
                    and (t.when is None or start is None or t.when >= start)
                    and (t.when is None or end is None or t.when < end)
                ]
                data["transactions"] = [t.wire() for t in sorted(rows, key=lambda t: (t.posted, t.id))]
            if account.holdings is not None:
                data["holdings"] = account.holdings
            accounts.append(data)
        body = {"errors": list(self.errors), "accounts": accounts}
        if params.get("version") == ["2"] or self.errlist:
            body["errlist"] = list(self.errlist)
        return 200, json.dumps(body).encode(), JSON
