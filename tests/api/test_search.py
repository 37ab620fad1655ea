"""A searchable, navigable API: ?search= and ?ordering=, a url per item, owner by username, sync everything."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.models import SyncRun, Transaction

pytestmark = pytest.mark.django_db


def test_transactions_search_and_ordering(alice, bob, synced_connection):
    some = Transaction.objects.filter(account__connection=synced_connection).exclude(description="").first()
    word = some.description.split()[0]
    rows = alice.get("/api/transactions/", {"search": word, "page_size": 500}).json()["results"]
    assert rows and all(word.lower() in (r["description"] + r["payee"] + r["category"]).lower() for r in rows)
    assert bob.get("/api/transactions/", {"search": word}).json()["results"] == []  # still only one's own
    amounts = [Decimal(r["amount"]) for r in alice.get("/api/transactions/", {"ordering": "amount"}).json()["results"]]
    assert amounts == sorted(amounts)
    latest = alice.get("/api/transactions/", {"ordering": "-posted_date"}).json()["results"]
    assert [r["posted_date"] for r in latest] == sorted((r["posted_date"] for r in latest), reverse=True)
    assert rows[0]["url"].endswith(f"/api/transactions/{rows[0]['id']}/")
    # An unknown ordering field is ignored, not a 500.
    assert alice.get("/api/transactions/", {"ordering": "credentials_encrypted"}).status_code == 200


def test_accounts_and_holdings_search(alice, synced_connection):
    rows = alice.get("/api/accounts/", {"search": "checking"}).json()["results"]
    assert [r["subtype"] for r in rows] == ["checking"]
    assert rows[0]["url"].endswith(f"/api/accounts/{rows[0]['id']}/")
    holdings = alice.get("/api/holdings/", {"search": "VTI"}).json()["results"]
    assert [h["symbol"] for h in holdings] == ["VTI"]
    by_value = alice.get("/api/holdings/", {"ordering": "-market_value"}).json()["results"]
    values = [Decimal(h["market_value"]) for h in by_value]
    assert values == sorted(values, reverse=True)


def test_schema_lists_search_and_ordering(alice):
    schema = alice.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    params = {p["name"] for p in schema["paths"]["/api/transactions/"]["get"]["parameters"]}
    assert {"search", "ordering"} <= params


def test_connection_owner_is_a_username_and_sync_everything(alice, bob, demo_connection, user):
    body = alice.get(f"/api/connections/{demo_connection.pk}/").json()
    assert body["owner"] == user.username and body["url"].endswith(f"/api/connections/{demo_connection.pk}/")
    response = alice.post(f"/api/connections/{demo_connection.pk}/sync/", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["command"] for r in body["results"]][:2] == ["accounts", "transactions"]
    assert body["succeeded"] == len(body["results"]) and body["failed"] == 0 and body["skipped"] == 0
    again = alice.post(f"/api/connections/{demo_connection.pk}/sync/", {}, format="json").json()
    assert again["skipped"] == len(again["results"])
    assert bob.post(f"/api/connections/{demo_connection.pk}/sync/", {}, format="json").status_code == 404
    assert (
        alice.post(f"/api/connections/{demo_connection.pk}/sync/", {"force": "maybe"}, format="json").status_code == 400
    )
    assert SyncRun.objects.filter(connection=demo_connection, source="api", status="succeeded").count() == len(
        body["results"]
    )
