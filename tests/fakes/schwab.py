"""Schwab's OAuth2 endpoints and Trader API (Individual) as a WSGI app.

Written from Schwab's documented wire format:
- `GET /v1/oauth/authorize?client_id&redirect_uri[&state]` redirects (302) to
  the redirect_uri with `code` (ending in `@`, sent as `%40`), `session` and the state;
- `POST /v1/oauth/token` with HTTP Basic app key:secret and a form:
  `grant_type=authorization_code&code&redirect_uri` (the code good once, for
  CODE_SECONDS) or `grant_type=refresh_token&refresh_token`; answers
  `{expires_in: 1800, token_type, scope, refresh_token, access_token, id_token}`;
  a refresh token is good for REFRESH_DAYS from the login whatever the
  refreshes, and `rotate_refresh` makes each refresh issue a new one (the old
  one then dies). Refusals: 400/401 `{"error", "error_description"}`;
- `GET /trader/v1/accounts/accountNumbers` -> `[{accountNumber, hashValue}]`;
- `GET /trader/v1/accounts?fields=positions` -> wrappers with `securitiesAccount`
  (and `aggregatedBalance`);
- `GET /trader/v1/accounts/{hashValue}/transactions?startDate&endDate&types`,
  both dates required as `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, at most a year apart,
  `types` required; at most MAX_ROWS rows (the earliest, by `time`), no paging.
  A plain account number in the path is `400 {"message": "Invalid account number"}`.
- An expired or unknown access token: 401 in the gateway shape
  `{"errors": [{"id", "status": "401", "title": "Unauthorized", "detail": ...}]}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlencode

from tests.fakes.server import Fault, FaultQueue, RecordedRequest, respond

JSON = {"Content-Type": "application/json"}
MAX_ROWS = 3000
CODE_SECONDS = 30
ACCESS_SECONDS = 1800
REFRESH_DAYS = 7
STAMP = "%Y-%m-%dT%H:%M:%S.000Z"


def _dumps(value) -> bytes:
    return json.dumps(value, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)).encode()


def token_error(status: int, error: str, description: str = "") -> Fault:
    """A refusal of the token endpoint, for `fail_next(path="/v1/oauth/token", ...)`."""
    return Fault(
        path="/v1/oauth/token",
        status=status,
        body=_dumps({"error": error, "error_description": description}),
        headers=JSON,
    )


NESTED_REFRESH_ERROR = token_error(
    400,
    "unsupported_token_type",
    '400 Bad Request: "{"error_description":"Exception while authenticating refresh token [tokenDigest=abc]",'
    '"error":"refresh_token_authentication_error"}"',
)


@dataclass
class Login:
    """One Schwab login: its accounts; what its authorize codes give."""

    numbers: list[str]


@dataclass
class SchwabFake:
    client_id: str = "fake-app-key-1234"
    client_secret: str = "fake-app-secret-5678"
    redirect_uri: str = "https://127.0.0.1:8182/oauth/schwab/callback"
    # account number -> {"hash", "account" (securitiesAccount), "aggregated", "transactions"}
    accounts: dict[str, dict] = field(default_factory=dict)
    rotate_refresh: bool = False
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: FaultQueue = field(default_factory=FaultQueue)
    # The login the next authorize codes stand for (None: every account).
    login: list[str] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: dict[str, tuple[float, list[str] | None]] = {}
        self.refresh_tokens: dict[str, tuple[float, list[str] | None]] = {}  # token -> (login time, login)
        self.access_tokens: dict[str, tuple[float, list[str] | None]] = {}  # token -> (expires, login)
        self.refreshes = 0
        self.exchanges = 0

    # --- data --------------------------------------------------------------------

    def add_account(self, number: str, *, kind: str = "MARGIN", value="24810.40", cash="4120.55", positions=()):
        digest = hashlib.sha256(f"schwab-hash-{number}".encode()).hexdigest().upper()
        self.accounts[number] = {
            "hash": digest,
            "account": {
                "type": kind,
                "accountNumber": number,
                "roundTrips": 0,
                "isDayTrader": False,
                "positions": list(positions),
                "initialBalances": {"cashBalance": Decimal(cash), "accountValue": Decimal(value)},
                "currentBalances": {"cashBalance": Decimal(cash), "liquidationValue": Decimal(value)},
            },
            "aggregated": {"currentLiquidationValue": Decimal(value), "liquidationValue": Decimal(value)},
            "transactions": [],
        }
        return self.accounts[number]

    def add_transaction(self, number: str, activity_id: int, when: datetime, net: str, kind: str = "TRADE", **extra):
        row = {
            "activityId": activity_id,
            "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "accountNumber": number,
            "type": kind,
            "status": "VALID",
            "subAccount": "CASH",
            "netAmount": Decimal(net),
            **extra,
        }
        self.accounts[number]["transactions"].append(row)
        return row

    # --- control -----------------------------------------------------------------

    def fail_next(self, fault: Fault | None = None, **spec) -> None:
        self.faults.add(fault if fault is not None else Fault(**spec))

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens = {t: (0.0, login) for t, (_, login) in self.access_tokens.items()}

    def age_logins(self, days: float) -> None:
        """Move every login `days` into the past (the 7-day refresh limit)."""
        with self._lock:
            self.refresh_tokens = {t: (at - days * 86400, lg) for t, (at, lg) in self.refresh_tokens.items()}

    def transaction_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/transactions")]

    def token_requests(self, grant: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/oauth/token" and f"grant_type={grant}".encode() in r.body]

    # --- WSGI --------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        with self._lock:
            self.requests.append(RecordedRequest(environ["REQUEST_METHOD"], path, query, headers, body))
        fault = self.faults.take(path)
        if fault is not None and fault.status is not None:
            return respond(start_response, 200, b"", JSON, fault)
        status, answer, extra = self._answer(environ, path, query, body)
        if status == 302:
            start_response("302 Found", [("Location", answer), ("Content-Length", "0")])
            return [b""]
        return respond(start_response, status, _dumps(answer), {**JSON, **extra}, fault)

    def _answer(self, environ, path, query, body):
        method = environ["REQUEST_METHOD"]
        if path == "/v1/oauth/authorize" and method == "GET":
            return self._authorize(dict(query))
        if path == "/v1/oauth/token" and method == "POST":
            return self._token(environ, dict(parse_qsl(body.decode())))
        if not path.startswith("/trader/v1/"):
            return 404, {"errors": [{"id": "x", "status": "404", "title": "Not Found"}]}, {}
        login = self._bearer(environ)
        if login is False:
            unauthorized = {"errors": [{"id": "9c1", "status": "401", "title": "Unauthorized", "detail": "expired"}]}
            return 401, unauthorized, {}
        visible = [n for n in self.accounts if login is None or n in login]
        rest = path[len("/trader/v1") :]
        if rest == "/accounts/accountNumbers":
            return 200, [{"accountNumber": n, "hashValue": self.accounts[n]["hash"]} for n in visible], {}
        if rest == "/accounts":
            with_positions = dict(query).get("fields") == "positions"
            out = []
            for n in visible:
                account = dict(self.accounts[n]["account"])
                if not with_positions:
                    account.pop("positions", None)
                out.append({"securitiesAccount": account, "aggregatedBalance": self.accounts[n]["aggregated"]})
            return 200, out, {}
        if rest.startswith("/accounts/") and rest.endswith("/transactions"):
            return self._transactions(rest.split("/")[2], visible, dict(query))
        return 404, {"errors": [{"id": "x", "status": "404", "title": "Not Found"}]}, {}

    def _authorize(self, params):
        if params.get("client_id") != self.client_id or params.get("redirect_uri") != self.redirect_uri:
            return 400, {"message": "Access Denied"}, {}
        code = "C0." + secrets.token_urlsafe(24) + "@"
        with self._lock:
            self.codes[code] = (time.time() + CODE_SECONDS, self.login)
        query = {"code": code, "session": secrets.token_hex(8)}
        if "state" in params:
            query["state"] = params["state"]
        return 302, f"{self.redirect_uri}?{urlencode(query, quote_via=quote)}", {}

    def _token(self, environ, form):
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if environ.get("HTTP_AUTHORIZATION") != f"Basic {expected}":
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}, {}
        now = time.time()
        with self._lock:
            grant = form.get("grant_type")
            if grant == "authorization_code":
                entry = self.codes.pop(form.get("code", ""), None)
                if entry is None or entry[0] < now or form.get("redirect_uri") != self.redirect_uri:
                    return 400, {"error": "invalid_grant", "error_description": "authorization code invalid"}, {}
                self.exchanges += 1
                login_time, login = now, entry[1]
                refresh = secrets.token_urlsafe(32)
            elif grant == "refresh_token":
                entry = self.refresh_tokens.get(form.get("refresh_token", ""))
                if entry is None or entry[0] + REFRESH_DAYS * 86400 < now:
                    return 400, {"error": "invalid_grant", "error_description": "refresh token invalid"}, {}
                self.refreshes += 1
                login_time, login = entry
                refresh = form["refresh_token"]
                if self.rotate_refresh:
                    del self.refresh_tokens[refresh]
                    refresh = secrets.token_urlsafe(32)
            else:
                return 400, {"error": "unsupported_grant_type", "error_description": str(grant)}, {}
            access = "I0." + secrets.token_urlsafe(32) + "@"
            self.refresh_tokens[refresh] = (login_time, login)
            self.access_tokens[access] = (now + ACCESS_SECONDS, login)
        answer = {
            "expires_in": ACCESS_SECONDS,
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": refresh,
            "access_token": access,
            "id_token": "eyJ.fake",
        }
        return 200, answer, {}

    def _bearer(self, environ):
        header = environ.get("HTTP_AUTHORIZATION", "")
        entry = self.access_tokens.get(header.removeprefix("Bearer "))
        if not header.startswith("Bearer ") or entry is None or entry[0] < time.time():
            return False
        return entry[1]

    def _transactions(self, hash_value, visible, params):
        number = next((n for n in visible if self.accounts[n]["hash"] == hash_value), None)
        if number is None:
            return 400, {"message": "Invalid account number", "errors": ["Invalid account number"]}, {}
        try:
            start = datetime.strptime(params["startDate"], STAMP).replace(tzinfo=UTC)
            end = datetime.strptime(params["endDate"], STAMP).replace(tzinfo=UTC)
        except (KeyError, ValueError):
            bad = params.get("startDate", "")
            return 400, {"message": f"'{bad}' is not a valid value for startDate"}, {}
        if not params.get("types"):
            return 400, {"message": "types is required"}, {}
        if end - start > timedelta(days=365) or end < start:
            return 400, {"message": "The date range must be at most one year"}, {}
        types = set(params["types"].split(","))
        rows = [
            r
            for r in self.accounts[number]["transactions"]
            if start <= datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S%z") <= end and r["type"] in types
        ]
        rows.sort(key=lambda r: r["time"])
        return 200, rows[:MAX_ROWS], {}
