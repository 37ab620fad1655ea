"""Fixtures for the network adapters: loopback fakes, connections made through the real connect service."""

from __future__ import annotations

from datetime import date

import pytest

from sync.connections import create_connection
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
