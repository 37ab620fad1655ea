"""The issue's "done when": a new user with a token connects, syncs and reads back; never another user's data."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import ConnectionFactory


def test_new_user_with_a_token_connects_syncs_and_reads_back(db, other_user):
    get_user_model().objects.create_user("carol", password="another long passphrase")
    call_command("drf_create_token", "carol")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user__username='carol').key}")
    bobs = ConnectionFactory(owner=other_user, name="Bob's bank")

    created = client.post("/api/connections/", {"provider": "demo", "name": "Carol's bank"}, format="json")
    assert created.status_code == 201
    connection_id = created.json()["id"]

    accounts = client.post(f"/api/connections/{connection_id}/sync-accounts/", {}, format="json").json()
    assert (accounts["status"], accounts["created"]) == ("succeeded", 3)
    # Live demo data (no pinned clock): the default window ends today.
    transactions = client.post(f"/api/connections/{connection_id}/sync-transactions/", {}, format="json").json()
    assert transactions["status"] == "succeeded"
    assert transactions["created"] > 0

    listed_accounts = client.get("/api/accounts/").json()["results"]
    brokerage = next(a for a in listed_accounts if a["type"] == "investment")
    holdings = client.post(f"/api/accounts/{brokerage['id']}/sync-holdings/", {}, format="json").json()
    assert holdings["status"] == "succeeded"
    assert holdings["created"] > 0

    assert {a["connection"] for a in listed_accounts} == {connection_id}
    assert client.get("/api/transactions/").json()["count"] == transactions["created"]
    assert client.get("/api/holdings/").json()["count"] == holdings["created"]
    assert client.get("/api/sync-runs/").json()["count"] == 3

    # Bob's connection is invisible and cannot be synced.
    assert client.get(f"/api/connections/{bobs.pk}/").status_code == 404
    assert client.post(f"/api/connections/{bobs.pk}/sync-accounts/", {}, format="json").status_code == 404
    assert [c["id"] for c in client.get("/api/connections/").json()["results"]] == [connection_id]

    # A bad body gets field messages, not a crash.
    bad = client.post(
        f"/api/connections/{connection_id}/sync-transactions/", {"start_date": "soon", "force": "x"}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"start_date", "force"}
