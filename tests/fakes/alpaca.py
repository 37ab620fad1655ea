"""Alpaca's Trading API (v2) as a WSGI app: the account, its positions and its activities.

Written from Alpaca's documentation of the wire format: every number a JSON
string of a decimal; `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers, 401
`{"code": 40110000, "message": "request is not authorized"}` otherwise; every
answer carries `X-Ratelimit-Limit`, `X-Ratelimit-Remaining` and
`X-Ratelimit-Reset` (epoch seconds).

`GET /v2/account/activities` takes `category` (trade_activity or
non_trade_activity, not with `activity_types`), `activity_types`,
`direction` (asc or desc, default desc), `page_size` (1..100, default 100),
`page_token` (the id of the last row of the previous page: asc answers begin
right after it, desc end right before it), and `after` / `until`
(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ), which filter on the activity's
creation time, not its date: a non-trade activity is created the day after
its date. The end of the data is an empty list. Bad parameters answer 422
`{"code": 40010001, ...}`.

    fake = AlpacaFake()
    fake.fill("AAPL", "buy", qty="3", price="171.02", at=datetime(2026, 5, 4, 14, 30, tzinfo=UTC))
    fake.non_trade("DIV", date(2026, 5, 15), "2.40", symbol="AAPL")
    with LiveServer(fake) as server:
        settings.ALPACA_BASE_URL = server.url
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

from tests.fakes.server import Fault, FaultQueue, RecordedRequest, respond

JSON = {"Content-Type": "application/json"}
MAX_PAGE_SIZE = 100
RATE_LIMIT = 200
CATEGORIES = ("trade_activity", "non_trade_activity")
UNAUTHORIZED = {"code": 40110000, "message": "request is not authorized"}


def alpaca_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Fault:
    """A Fault answering with Alpaca's error body (use with AlpacaFake.fail_next)."""
    body = json.dumps({"code": code, "message": message}).encode()
    return Fault(status=status, body=body, headers={**JSON, **(headers or {})})


def rate_limited(reset_in: int = 30) -> Fault:
    """A 429 as Alpaca sends it: no Retry-After, the reset time as an epoch in X-Ratelimit-Reset."""
    reset = str(int(time.time()) + reset_in)
    return alpaca_error(
        429,
        42910000,
        "too many requests",
        {"X-Ratelimit-Limit": str(RATE_LIMIT), "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": reset},
    )


def _stamp(moment: datetime) -> str:
    """Alpaca's timestamp form: UTC, microseconds, a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _id(moment: datetime, seed: str) -> str:
    """`<yyyyMMddHHmmssSSS>::<uuid>`: ids sort by time."""
    prefix = moment.astimezone(UTC).strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"
    return f"{prefix}::{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"


@dataclass
class Activity:
    """One activity as sent (`wire`), its category and when Alpaca created it (what after/until filter)."""

    wire: dict
    category: str
    created: datetime

    @property
    def id(self) -> str:
        return self.wire["id"]


@dataclass
class AlpacaFake:
    key_id: str = field(default_factory=lambda: "PK" + secrets.token_hex(9).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    account: dict = field(default_factory=dict)
    positions: list[dict] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: FaultQueue = field(default_factory=FaultQueue)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._serial = 0
        if not self.account:
            self.account = {
                "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98",
                "account_number": "PA3XYZ123ABC",
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "cash": "1523.40",
                "portfolio_value": "10412.77",
                "equity": "10412.77",
                "last_equity": "10388.10",
                "long_market_value": "8889.37",
                "short_market_value": "-891.00",
                "buying_power": "3046.80",
                "multiplier": "2",
                "shorting_enabled": True,
                "trading_blocked": False,
                "created_at": "2023-01-01T18:20:20.272275Z",
                "balance_asof": "2026-06-12",
            }

    # --- data --------------------------------------------------------------------

    def _next_seed(self) -> str:
        self._serial += 1
        return f"alpaca-fake-{self._serial}"

    def fill(
        self,
        symbol: str,
        side: str,
        *,
        qty: str,
        price: str,
        at: datetime,
        partial: bool = False,
        order_id: str | None = None,
        leaves_qty: str = "0",
    ) -> Activity:
        """A FILL (trade activity); `side` buy, sell or sell_short; `partial` for a partial fill."""
        seed = self._next_seed()
        wire = {
            "id": _id(at, seed),
            "activity_type": "FILL",
            "transaction_time": _stamp(at),
            "type": "partial_fill" if partial else "fill",
            "price": price,
            "qty": qty,
            "side": side,
            "symbol": symbol,
            "leaves_qty": leaves_qty,
            "cum_qty": qty,
            "order_id": order_id or str(uuid.uuid5(uuid.NAMESPACE_URL, seed + "-order")),
            "order_status": "partially_filled" if partial else "filled",
        }
        return self._add(Activity(wire, "trade_activity", at))

    def non_trade(
        self,
        activity_type: str,
        day: date,
        net_amount: str,
        *,
        description: str = "",
        status: str | None = "executed",
        **extra,
    ) -> Activity:
        """A non-trade activity dated `day`, created by Alpaca the next day (UTC)."""
        created = datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC) + timedelta(days=1)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        wire = {
            "id": _id(midnight, self._next_seed()),
            "activity_type": activity_type,
            "date": day.isoformat(),
            "net_amount": net_amount,
            "description": description,
            **extra,
        }
        if status is not None:
            wire["status"] = status
        return self._add(Activity(wire, "non_trade_activity", created))

    def _add(self, activity: Activity) -> Activity:
        with self._lock:
            self.activities.append(activity)
        return activity

    def cancel(self, activity: Activity) -> None:
        activity.wire["status"] = "canceled"

    def position(self, symbol: str, qty: str, side: str = "long", **fields) -> dict:
        seed = f"asset-{symbol}"
        data = {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, seed)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": qty,
            "qty_available": qty,
            "side": side,
            "avg_entry_price": "100.00",
            "market_value": "0",
            "cost_basis": "0",
            "unrealized_pl": "0",
            "current_price": "100.00",
            "lastday_price": "100.00",
            "change_today": "0",
            **fields,
        }
        self.positions.append(data)
        return data

    # --- control -----------------------------------------------------------------

    def fail_next(self, fault: Fault | None = None, **spec) -> None:
        """Script a bad answer (a Fault, or its fields: path, status, body, headers, sleep, after, times)."""
        self.faults.add(fault if fault is not None else Fault(**spec))

    def activity_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v2/account/activities"]

    # --- WSGI --------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self._lock:
            self.requests.append(RecordedRequest(environ["REQUEST_METHOD"], path, query, headers, b""))
        fault = self.faults.take(path)
        status, body = self._answer(environ, path, query)
        limits = {
            "X-Ratelimit-Limit": str(RATE_LIMIT),
            "X-Ratelimit-Remaining": str(RATE_LIMIT - 1),
            "X-Ratelimit-Reset": str(int(time.time()) + 60),
        }
        return respond(start_response, status, json.dumps(body).encode(), {**JSON, **limits}, fault)

    def _answer(self, environ, path: str, query: list[tuple[str, str]]) -> tuple[int, object]:
        if environ["REQUEST_METHOD"] != "GET":
            return 405, {"code": 40510000, "message": "method not allowed"}
        if (
            environ.get("HTTP_APCA_API_KEY_ID") != self.key_id
            or environ.get("HTTP_APCA_API_SECRET_KEY") != self.secret_key
        ):
            return 401, UNAUTHORIZED
        if path == "/v2/account":
            return 200, self.account
        if path == "/v2/positions":
            return 200, self.positions
        if path == "/v2/account/activities":
            return self._activities(query)
        return 404, {"code": 40410000, "message": "endpoint not found"}

    def _activities(self, query: list[tuple[str, str]]) -> tuple[int, object]:
        params = dict(query)
        known = {"category", "activity_types", "direction", "page_size", "page_token", "after", "until", "date"}
        if len(params) != len(query) or set(params) - known:
            return 422, {"code": 40010001, "message": "invalid or repeated parameter"}
        category = params.get("category")
        if category is not None and category not in CATEGORIES:
            return 422, {"code": 40010001, "message": f"invalid category: {category}"}
        if category is not None and "activity_types" in params:
            return 422, {"code": 40010001, "message": "category cannot be combined with activity_types"}
        direction = params.get("direction", "desc")
        if direction not in ("asc", "desc"):
            return 422, {"code": 40010001, "message": f"invalid direction: {direction}"}
        try:
            size = int(params.get("page_size", MAX_PAGE_SIZE))
            after = _bound(params.get("after"))
            until = _bound(params.get("until"), end_of_day=True)
        except ValueError as error:
            return 422, {"code": 40010001, "message": str(error)}
        if not 1 <= size <= MAX_PAGE_SIZE:
            return 422, {"code": 40010001, "message": "page_size must be between 1 and 100"}
        types = set(params["activity_types"].split(",")) if "activity_types" in params else None
        with self._lock:
            rows = [
                a
                for a in self.activities
                if (category is None or a.category == category)
                and (types is None or a.wire["activity_type"] in types)
                and (after is None or a.created > after)
                and (until is None or a.created <= until)
            ]
        rows.sort(key=lambda a: a.id, reverse=direction == "desc")
        token = params.get("page_token")
        if token:
            rows = [a for a in rows if (a.id > token if direction == "asc" else a.id < token)]
        return 200, [dict(a.wire) for a in rows[:size]]


def _bound(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An `after` / `until` value: a date (its start, or for `until` its end, UTC) or a UTC timestamp."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"invalid date: {value}") from None
