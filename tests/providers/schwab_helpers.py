"""Shared set-up of the Schwab tests: a fake login with two accounts, and the OAuth flow through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests

from tests.fakes.schwab import SchwabFake

NUMBER = "12345678"
OTHER_NUMBER = "87654321"


def trade_row(activity_id: int, when: datetime, *, symbol="SFM", qty="1.0", price="164.85", net="-164.85"):
    """A TRADE as Schwab sends it, with a commission and a regulatory fee."""
    return {
        "activityId": activity_id,
        "tradeDate": when.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "transferItems": [
            {
                "instrument": {"assetType": "CURRENCY", "symbol": "CURRENCY_USD"},
                "amount": Decimal("0.65"),
                "cost": Decimal("-0.65"),
                "feeType": "COMMISSION",
            },
            {
                "instrument": {"assetType": "CURRENCY", "symbol": "CURRENCY_USD"},
                "amount": Decimal("0.01"),
                "cost": Decimal("-0.01"),
                "feeType": "OPT_REG_FEE",
            },
            {
                "instrument": {"assetType": "EQUITY", "symbol": symbol, "type": "COMMON_STOCK"},
                "amount": Decimal(qty),
                "cost": Decimal(net),
                "price": Decimal(price),
                "positionEffect": "OPENING",
            },
        ],
    }


def build_schwab_login(fake: SchwabFake) -> SchwabFake:
    """Account 12345678 (margin, two positions, a trade, a deposit, a dividend); 87654321 (cash, empty)."""
    fake.add_account(
        NUMBER,
        positions=[
            {
                "shortQuantity": Decimal("0.0"),
                "averagePrice": Decimal("187.42"),
                "longQuantity": Decimal("20.0"),
                "instrument": {"assetType": "EQUITY", "cusip": "037833100", "symbol": "AAPL"},
                "marketValue": Decimal("3735.8"),
            },
            {
                "shortQuantity": Decimal("1.0"),
                "averagePrice": Decimal("13.3"),
                "longQuantity": Decimal("0.0"),
                "instrument": {
                    "assetType": "OPTION",
                    "cusip": "0CRCL.MF70085000",
                    "symbol": "CRCL  270115P00085000",
                    "description": "CIRCLE INTERNET GROUP 01/15/2027 $85 Put",
                },
                "marketValue": Decimal("-1180.0"),
            },
        ],
    )
    fake.add_account(OTHER_NUMBER, kind="CASH", value="500.00", cash="500.00")
    # Traded 23:30 New York time on May 4 (May 5 in UTC): booked May 4.
    when = datetime(2026, 5, 5, 3, 30, 1, tzinfo=UTC)
    fake.add_transaction(NUMBER, 95512265692, when, "-165.51", **trade_row(95512265692, when, net="-164.85"))
    fake.add_transaction(
        NUMBER,
        96000000114,
        datetime(2026, 5, 1, 14, 0, tzinfo=UTC),
        "500.0",
        kind="ACH_RECEIPT",
        description="CLIENT REQUESTED ELECTRONIC FUNDING RECEIPT",
        transferItems=[{"instrument": {"assetType": "CURRENCY", "symbol": "CURRENCY_USD"}, "amount": 500, "cost": 500}],
    )
    fake.add_transaction(
        NUMBER,
        96000000230,
        datetime(2026, 5, 15, 13, 12, tzinfo=UTC),
        "12.34",
        kind="DIVIDEND_OR_INTEREST",
        description="QUALIFIED DIVIDEND",
        transferItems=[{"instrument": {"assetType": "EQUITY", "symbol": "KO", "cusip": "191216100"}, "amount": 0}],
    )
    return fake


def follow_authorize(authorize_url: str) -> str:
    """What the user's browser does at Schwab: open the authorize URL, log in; returns where it lands."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def local_path(url: str) -> str:
    """The path and query of the callback URL, for Django's test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
