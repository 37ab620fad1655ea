"""Balances over time through the API: an account's daily series and net worth per currency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from sync.models import Account
from sync.services.balances import daily_balances

pytestmark = pytest.mark.django_db


@pytest.fixture
def checking(synced_connection):
    return Account.objects.get(connection=synced_connection, subtype="checking")


def test_an_accounts_daily_balances(alice, checking):
    last = checking.balance_date.date()
    start = last - timedelta(days=6)
    response = alice.get(f"/api/accounts/{checking.pk}/balances/", {"start": start.isoformat(), "end": str(last)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["account"] == str(checking.pk) and body["currency"] == "USD"
    points = body["points"]
    assert [p["date"] for p in points] == [(start + timedelta(days=i)).isoformat() for i in range(7)]
    assert points[-1] == {"date": str(last), "balance": f"{checking.balance:.4f}", "source": "current"}
    assert {p["source"] for p in points[:-1]} <= {"derived", "snapshot"}
    # The same series the service rebuilds (and the admin draws).
    expected = daily_balances(checking, start=start, end=last)
    assert [Decimal(p["balance"]) for p in points] == [p.balance for p in expected]


def test_balances_refuse_bad_windows_and_other_users(alice, bob, checking):
    url = f"/api/accounts/{checking.pk}/balances/"
    response = alice.get(url, {"start": "2026-06-10", "end": "2026-06-01"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "after end" in response.json()["message"]
    response = alice.get(url, {"start": "yesterday"})
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert bob.get(url).status_code == 404


def test_net_worth_per_currency(alice, bob, checking):
    last = checking.balance_date.date()
    response = alice.get("/api/net-worth/", {"start": str(last - timedelta(days=2)), "end": str(last)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["start"] == str(last - timedelta(days=2)) and body["end"] == str(last)
    [usd] = body["currencies"]
    assert usd["currency"] == "USD" and usd["accounts"] == 3
    assert len(usd["points"]) == 3
    total = sum(a.balance for a in Account.objects.filter(connection=checking.connection, is_active=True))
    assert Decimal(usd["points"][-1]["balance"]) == total
    assert bob.get("/api/net-worth/").json()["currencies"] == []  # bob has no accounts
    assert alice.get("/api/net-worth/", {"end": "bad"}).status_code == 400
