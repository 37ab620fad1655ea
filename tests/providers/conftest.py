"""Fixtures for the network adapters: loopback fakes, connections made through the real connect service."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sync.services.connections import create_connection
from tests.fakes.alpaca import AlpacaFake
from tests.fakes.plaid import FakeItem, PlaidFake, security, transaction
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake

WINDOW = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}


@pytest.fixture(autouse=True)
def _http_settings(_finsync_settings):
    """Plain http to the loopback fakes, short timeouts and near-instant retries."""
    settings = _finsync_settings
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
    settings.FINSYNC_HTTP_CONNECT_TIMEOUT = 2.0
    settings.FINSYNC_HTTP_READ_TIMEOUT = 5.0
    settings.FINSYNC_HTTP_MAX_RETRIES = 2
    settings.FINSYNC_HTTP_BACKOFF_SECONDS = 0.01
    return settings


def build_simplefin_bank(fake: SimpleFINFake) -> SimpleFINFake:
    """A checking account, a credit card and a brokerage with holdings; data in May-June 2026."""
    fake.add_account("chk-001", "Everyday Checking", balance="1520.35", available_balance="1490.35")
    fake.add_account("cc-002", "Rewards Visa", balance="-230.10")
    fake.add_account(
        "inv-003",
        "Brokerage",
        balance="10450.00",
        holdings=[
            {
                "id": "hold-vti",
                "created": 1767225600,
                "currency": "USD",
                "cost_basis": "4500.00",
                "description": "Vanguard Total Stock Market ETF",
                "market_value": "6000.00",
                "purchase_price": "225.00",
                "shares": "25",
                "symbol": "VTI",
            },
            {
                "id": "hold-aapl",
                "created": 1767225600,
                "currency": "USD",
                "cost_basis": 3800,
                "description": "Apple Inc.",
                "market_value": 4450.5,
                "purchase_price": 190,
                "shares": 20,
                "symbol": "AAPL",
            },
        ],
    )
    fake.add_transaction("chk-001", "t-100", posted=date(2026, 5, 2), amount="3200.00", description="PAYROLL ACME")
    fake.add_transaction("chk-001", "t-101", posted=date(2026, 5, 4), amount="-54.20", description="CORNER GROCERY")
    fake.add_transaction(
        "chk-001", "t-102", posted=date(2026, 5, 20), amount="-120.00", description="CITY UTILITIES", payee="City"
    )
    fake.add_transaction(
        "chk-001", "p-103", pending=True, transacted_at=date(2026, 6, 13), amount="-18.75", description="CAFE"
    )
    fake.add_transaction("cc-002", "t-200", posted=date(2026, 5, 10), amount="-42.99", description="ONLINE BOOKS")
    fake.add_transaction("cc-002", "t-201", posted=date(2026, 6, 1), amount="-9.99", description="STREAMING CO")
    fake.add_transaction("inv-003", "t-300", posted=date(2026, 5, 15), amount="12.34", description="DIVIDEND VTI")
    return fake


@pytest.fixture
def simplefin_fake() -> SimpleFINFake:
    return build_simplefin_bank(SimpleFINFake())


@pytest.fixture
def simplefin_server(simplefin_fake):
    with LiveServer(simplefin_fake) as server:
        yield server


@pytest.fixture
def simplefin_connection(user, simplefin_fake, simplefin_server):
    return create_connection(
        owner=user,
        provider="simplefin",
        name="My SimpleFIN",
        options={"access_url": simplefin_fake.access_url(simplefin_server.url)},
        actor=user,
        source="cli",
    )


PLAID_TOKEN = "access-sandbox-8c1f5e7a-alice"


def build_plaid_item(fake: PlaidFake, token: str = PLAID_TOKEN) -> FakeItem:
    """Checking, credit card and brokerage accounts; five transactions (one pending); three holdings."""
    item = fake.add_item(token)
    item.add_account("acc-chk", "Plaid Checking", current=110.0, available=100.0, mask="0000")
    item.add_account("acc-cc", "Plaid Credit Card", type="credit", subtype="credit card", current=410.25, mask="3333")
    item.add_account("acc-inv", "Plaid Brokerage", type="investment", subtype="brokerage", current=23631.98)
    item.add(transaction("tx-1", "acc-chk", -2500.0, date(2026, 5, 1), "ACME Payroll", category="INCOME"))
    item.add(transaction("tx-2", "acc-chk", 12.5, date(2026, 5, 3), "Blue Bottle", merchant_name="Blue Bottle"))
    item.add(transaction("tx-3", "acc-cc", 89.4, date(2026, 5, 10), "Hardware Depot"))
    item.add(transaction("tx-4", "acc-cc", 5.99, date(2026, 5, 12), "Streaming Co", category=None))
    item.add(transaction("pend-5", "acc-chk", 23.07, date(2026, 6, 13), "Apple Store", pending=True))
    cash = security("sec-cash", "U S Dollar", "CUR:USD", "cash", 1.0)
    vti = security("sec-vti", "Vanguard Total Stock Market ETF", "VTI", "etf", 240.12, cusip="922908769")
    option = security(
        "sec-opt", "NFLX Jan 2027 Call", "NFLX270115C00600000", "derivative", 12.0, proxy_security_id="sec-nflx"
    )
    item.add_holding("acc-inv", cash, quantity=1200.5, price=1.0, cost_basis=1200.5)
    item.add_holding("acc-inv", vti, quantity=92.25, price=240.12, cost_basis=18000.0)
    item.add_holding("acc-inv", option, quantity=1.0, price=12.0)
    return item


@pytest.fixture
def plaid_fake() -> PlaidFake:
    fake = PlaidFake()
    build_plaid_item(fake)
    return fake


@pytest.fixture
def plaid_server(plaid_fake, _http_settings):
    with LiveServer(plaid_fake) as server:
        _http_settings.PLAID_BASE_URL = server.url
        _http_settings.PLAID_CLIENT_ID = plaid_fake.client_id
        _http_settings.PLAID_SECRET = plaid_fake.secret
        yield server


@pytest.fixture
def plaid_connection(user, plaid_server):
    return create_connection(
        owner=user, provider="plaid", name="My Plaid", options={"access_token": PLAID_TOKEN}, actor=user, source="cli"
    )


def build_alpaca_account(fake: AlpacaFake) -> AlpacaFake:
    """Trades (partial fills, a sale, a short sale), every non-trade kind, a canceled fee; two positions.

    Everything is dated in May 2026 but one fill, traded late on June 12 in New York (June 13 in UTC).
    """
    order = "904837e3-3b76-47ec-b432-046db621571b"
    fake.fill(
        "AAPL",
        "buy",
        qty="3",
        price="171.02",
        at=datetime(2026, 5, 4, 14, 30, 12, tzinfo=UTC),
        partial=True,
        order_id=order,
        leaves_qty="7",
    )
    fake.fill("AAPL", "buy", qty="7", price="171.05", at=datetime(2026, 5, 4, 14, 30, 13, tzinfo=UTC), order_id=order)
    fake.fill("AAPL", "sell", qty="2", price="180.10", at=datetime(2026, 5, 11, 15, 0, tzinfo=UTC))
    fake.fill("SLM", "sell_short", qty="100", price="8.36", at=datetime(2026, 5, 12, 15, 0, tzinfo=UTC))
    fake.fill("TINY", "buy", qty="1", price="0.00025", at=datetime(2026, 5, 13, 15, 0, tzinfo=UTC))
    fake.fill("MSFT", "buy", qty="0.5", price="410.20", at=datetime(2026, 6, 13, 1, 30, tzinfo=UTC))  # June 12 in NY
    fake.non_trade("CSD", date(2026, 5, 1), "1000.00")
    fake.non_trade(
        "DIV",
        date(2026, 5, 15),
        "2.40",
        symbol="AAPL",
        qty="10",
        per_share_amount="0.24",
        description="Cash DIV @ 0.24",
    )
    fake.non_trade("DIVCGL", date(2026, 5, 16), "1.10", symbol="VTI", description="long-term capital gain")
    fake.non_trade("INT", date(2026, 5, 20), "0.35", description="interest")
    fake.non_trade("FEE", date(2026, 5, 4), "-0.02", description="REG/TAF FEE")
    fake.non_trade("CFEE", date(2026, 5, 21), "-1.00", description="crypto fee")
    fake.non_trade("CSW", date(2026, 5, 22), "-200.00")
    fake.non_trade("JNLC", date(2026, 5, 23), "50.00", description="journal in")
    fake.non_trade("JNLS", date(2026, 5, 24), "0", symbol="AAPL", qty="1")
    fake.non_trade("SPLIT", date(2026, 5, 25), "0", symbol="NVDA", qty="9", status=None)
    fake.non_trade("WH", date(2026, 5, 26), "-0.36", description="tax withheld")
    fake.non_trade("MYSTERY", date(2026, 5, 27), "-3.00", description="something new")
    fake.cancel(fake.non_trade("FEE", date(2026, 5, 28), "-5.00", description="FEE charged in error"))
    fake.position(
        "AAPL", "8", current_price="186.75", market_value="1494.00", cost_basis="1368.28", avg_entry_price="171.04"
    )
    fake.position("SLM", "-100", side="short", current_price="8.91", market_value="-891.00", cost_basis="-836.00")
    return fake


@pytest.fixture
def alpaca_fake() -> AlpacaFake:
    return build_alpaca_account(AlpacaFake())


@pytest.fixture
def alpaca_server(alpaca_fake, _http_settings):
    with LiveServer(alpaca_fake) as server:
        _http_settings.ALPACA_BASE_URL = server.url
        yield server


@pytest.fixture
def alpaca_connection(user, alpaca_fake, alpaca_server):
    return create_connection(
        owner=user,
        provider="alpaca",
        name="My Alpaca",
        options={"api_key_id": alpaca_fake.key_id, "api_secret_key": alpaca_fake.secret_key},
        actor=user,
        source="cli",
    )


@pytest.fixture
def schwab_fake():
    from tests.fakes.schwab import SchwabFake
    from tests.providers.schwab_helpers import build_schwab_login

    return build_schwab_login(SchwabFake())


@pytest.fixture
def schwab_server(schwab_fake, _http_settings):
    with LiveServer(schwab_fake) as server:
        _http_settings.SCHWAB_BASE_URL = server.url
        _http_settings.SCHWAB_CLIENT_ID = schwab_fake.client_id
        _http_settings.SCHWAB_CLIENT_SECRET = schwab_fake.client_secret
        _http_settings.SCHWAB_REDIRECT_URI = schwab_fake.redirect_uri
        yield server


@pytest.fixture
def schwab_connection(user, schwab_server):
    """A Schwab connection of `alice`, made through the real authorize and callback services."""
    from urllib.parse import parse_qs, urlsplit

    from sync.services import oauth
    from tests.providers.schwab_helpers import follow_authorize

    start = oauth.start_authorization(user=user, provider="schwab", name="My Schwab", source="cli")
    landed = parse_qs(urlsplit(follow_authorize(start.authorize_url)).query)
    return oauth.finish_authorization(state=landed["state"][0], code=landed["code"][0], source="cli")
