"""Read-only endpoints (accounts, transactions, holdings, sync runs, audit events) and the transaction PATCH."""

from __future__ import annotations

import uuid

import pytest

from sync.models import Account, AuditEvent, Holding, SyncRun, Transaction
from tests.api.conftest import WINDOW
from tests.factories import ConnectionFactory

ENDPOINTS = ["accounts", "transactions", "holdings", "sync-runs", "audit-events"]
MODELS = {"accounts": Account, "transactions": Transaction, "holdings": Holding, "sync-runs": SyncRun}


@pytest.fixture
def bobs_connection(bob, other_user):
    """bob's own synced demo connection, so isolation is checked against real data on both sides."""
    connection = ConnectionFactory(owner=other_user, name="Bob's bank")
    assert bob.post(f"/api/connections/{connection.pk}/sync-accounts/", {}, format="json").status_code == 200
    assert bob.post(f"/api/connections/{connection.pk}/sync-transactions/", WINDOW, format="json").status_code == 200
    return connection


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_lists_hold_only_the_callers_data(alice, bob, synced_connection, bobs_connection, endpoint):
    alices = ids(alice.get(f"/api/{endpoint}/", {"page_size": 500}))
    bobs = ids(bob.get(f"/api/{endpoint}/", {"page_size": 500}))
    assert alices
    assert bobs or endpoint == "holdings"
    assert not alices & bobs
    if endpoint in MODELS:
        model = MODELS[endpoint]
        own = model.objects.filter(**_owner_lookup(endpoint, synced_connection))
        assert alices == {str(pk) for pk in own.values_list("pk", flat=True)}
    # Nothing of bob's can be retrieved by alice, and the other way round.
    for pk in list(bobs)[:3]:
        assert alice.get(f"/api/{endpoint}/{pk}/").status_code == 404
    for pk in list(alices)[:3]:
        assert alice.get(f"/api/{endpoint}/{pk}/").status_code == 200
        assert bob.get(f"/api/{endpoint}/{pk}/").json()["code"] == "not_found"


def _owner_lookup(endpoint, connection):
    return {
        "accounts": {"connection": connection},
        "transactions": {"account__connection": connection},
        "holdings": {"account__connection": connection},
        "sync-runs": {"connection": connection},
    }[endpoint]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_staff_syncer_reads_only_their_own_data(operator, alice, synced_connection, bobs_connection, endpoint):
    # sync.sync_connection syncs anyone's connection; it shows nothing of anyone else's.
    assert ids(operator.get(f"/api/{endpoint}/", {"page_size": 500})) == set()
    for pk in list(ids(alice.get(f"/api/{endpoint}/", {"page_size": 500})))[:3]:
        response = operator.get(f"/api/{endpoint}/{pk}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_staff_syncer_cannot_edit_another_users_transaction(operator, synced_connection):
    txn = Transaction.objects.filter(account__connection=synced_connection).first()
    response = operator.patch(f"/api/transactions/{txn.pk}/", {"notes": "staff was here"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    txn.refresh_from_db()
    assert txn.notes == ""
    assert not AuditEvent.objects.filter(event="transaction.edited").exists()


def test_account_fields_and_filters(alice, synced_connection):
    accounts = alice.get("/api/accounts/").json()
    assert accounts["count"] == 3
    brokerage = next(a for a in accounts["results"] if a["type"] == "investment")
    assert brokerage["connection"] == str(synced_connection.pk)
    assert brokerage["is_active"] is True
    assert brokerage["holdings_synced_at"]
    assert ids(alice.get("/api/accounts/", {"type": "investment"})) == {brokerage["id"]}
    assert ids(alice.get("/api/accounts/", {"connection": str(synced_connection.pk)})) == {
        a["id"] for a in accounts["results"]
    }
    assert ids(alice.get("/api/accounts/", {"connection": str(uuid.uuid4())})) == set()
    assert ids(alice.get("/api/accounts/", {"is_active": "false"})) == set()


def test_transaction_filters(alice, synced_connection):
    everything = Transaction.objects.filter(account__connection=synced_connection)
    account = synced_connection.accounts.order_by("name").first()

    def count(**params):
        response = alice.get("/api/transactions/", {"page_size": 1, **params})
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count() == everything.count()
    assert count(account=account.pk) == everything.filter(account=account).count()
    assert count(connection=synced_connection.pk) == everything.count()
    assert count(start_date="2026-06-01", end_date="2026-06-10") == (
        everything.filter(posted_date__range=("2026-06-01", "2026-06-10")).count()
    )
    assert count(status="pending") == everything.filter(status="pending").count() > 0
    assert count(status="posted") == everything.filter(status="posted").count()
    assert count(removed="false") == everything.filter(is_removed=False).count()
    assert count(removed="true") == everything.filter(is_removed=True).count()


def test_transaction_shape_has_decimal_strings(alice, synced_connection):
    row = alice.get("/api/transactions/").json()["results"][0]
    assert isinstance(row["amount"], str)
    assert row["amount"].replace("-", "").replace(".", "").isdigit()
    assert set(row) >= {"id", "account", "posted_date", "amount", "currency", "category", "notes", "status"}


def test_holding_filters(alice, synced_connection):
    brokerage = synced_connection.accounts.get(type="investment")
    holdings = alice.get("/api/holdings/", {"account": str(brokerage.pk), "active": "true"}).json()
    assert holdings["count"] == brokerage.holdings.filter(is_active=True).count() > 0
    assert isinstance(holdings["results"][0]["quantity"], str)
    assert alice.get("/api/holdings/", {"active": "false"}).json()["count"] == 0


def test_sync_run_and_audit_event_filters(alice, user, synced_connection):
    runs = alice.get("/api/sync-runs/", {"connection": str(synced_connection.pk), "kind": "transactions"}).json()
    assert runs["count"] == 1
    run = runs["results"][0]
    assert (run["status"], run["source"], run["actor"]) == ("succeeded", "api", user.pk)
    assert (run["window_start"], run["window_end"]) == (WINDOW["start_date"], WINDOW["end_date"])
    assert alice.get("/api/sync-runs/", {"status": "failed"}).json()["count"] == 0

    events = alice.get("/api/audit-events/", {"sync_run": run["id"]}).json()
    assert [e["event"] for e in events["results"]] == ["sync.transactions.succeeded"]
    succeeded = events["results"][0]
    assert succeeded["payload"]["created"] > 0
    assert succeeded["source"] == "api"
    by_correlation = alice.get("/api/audit-events/", {"correlation_id": succeeded["correlation_id"]}).json()
    assert {e["event"] for e in by_correlation["results"]} == {
        "sync.transactions.attempted",
        "sync.transactions.succeeded",
    }


def test_sync_runs_keep_their_labels_when_an_account_goes(alice, user, synced_connection):
    """A run says what it was about after its account is deleted (SET_NULL, labels written at the start)."""
    account = synced_connection.accounts.get(type="investment")
    answer = alice.post(f"/api/accounts/{account.pk}/sync-holdings/", {"force": True}, format="json")
    assert answer.status_code == 200, answer.content
    account.delete()
    shown = alice.get(f"/api/sync-runs/{answer.json()['sync_run_id']}/").json()
    assert shown["account"] is None
    assert shown["account_label"] == str(account)
    assert shown["connection_label"] == str(synced_connection)
    assert shown["actor_label"] == user.get_username()


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        ("accounts", {"connection": "nope"}),
        ("transactions", {"account": "12"}),
        ("transactions", {"start_date": "2026-13-01"}),
        ("transactions", {"end_date": "tomorrow"}),
        ("transactions", {"status": "cleared"}),
        ("holdings", {"account": "x" * 300}),
        ("sync-runs", {"kind": "everything"}),
        ("sync-runs", {"status": "?"}),
        ("audit-events", {"correlation_id": "0"}),
        ("audit-events", {"event": "e" * 101}),
        ("audit-events", {"event": "nul\x00"}),
    ],
)
def test_bad_filters_are_400_with_field_messages(alice, synced_connection, endpoint, params):
    response = alice.get(f"/api/{endpoint}/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(params) <= set(body["fields"])


def test_pagination_and_pages_past_the_end(alice, synced_connection):
    total = Transaction.objects.filter(account__connection=synced_connection).count()
    page = alice.get("/api/transactions/", {"page_size": 5, "page": 2}).json()
    assert page["count"] == total
    assert len(page["results"]) == 5
    assert page["previous"] and page["next"]
    assert len(alice.get("/api/transactions/", {"page_size": 100000}).json()["results"]) == min(total, 500)
    for bad in ("999999", "0", "-1", "abc", "9" * 40):
        response = alice.get("/api/transactions/", {"page": bad})
        assert response.status_code == 404, bad
        assert response.json()["code"] == "not_found"
    # A nonsense page size falls back to the default.
    assert alice.get("/api/transactions/", {"page_size": "lots"}).status_code == 200


def test_patch_category_and_notes(alice, synced_connection):
    transaction = Transaction.objects.filter(account__connection=synced_connection, status="posted").first()
    response = alice.patch(
        f"/api/transactions/{transaction.pk}/", {"category": "Coffee", "notes": "with Sam"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["category"], response.json()["notes"]) == ("Coffee", "with Sam")
    transaction.refresh_from_db()
    assert (transaction.category, transaction.notes) == ("Coffee", "with Sam")

    # A forced re-sync of the same window keeps the user's fields.
    forced = alice.post(
        f"/api/connections/{synced_connection.pk}/sync-transactions/", {**WINDOW, "force": True}, format="json"
    )
    assert forced.json()["status"] == "succeeded"
    transaction.refresh_from_db()
    assert (transaction.category, transaction.notes) == ("Coffee", "with Sam")

    only_notes = alice.patch(f"/api/transactions/{transaction.pk}/", {"notes": ""}, format="json").json()
    assert (only_notes["category"], only_notes["notes"]) == ("Coffee", "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "1.00"}, "amount"),
        ({"category": "x", "posted_date": "2026-01-01"}, "posted_date"),
        ({"is_removed": True}, "is_removed"),
        ({"category": "c" * 256}, "category"),
        ({"category": ["a"]}, "category"),
        ({"notes": None}, "notes"),
        ({"notes": "n" * 10_001}, "notes"),
    ],
)
def test_patch_rejects_other_fields_and_bad_values(alice, synced_connection, body, field):
    transaction = Transaction.objects.filter(account__connection=synced_connection).first()
    before = (transaction.amount, transaction.category, transaction.posted_date)
    response = alice.patch(f"/api/transactions/{transaction.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"][field]
    transaction.refresh_from_db()
    assert (transaction.amount, transaction.category, transaction.posted_date) == before


def test_patch_is_audited_with_the_fields_changed_and_only_when_something_changed(alice, user, synced_connection):
    transaction = Transaction.objects.filter(account__connection=synced_connection).first()
    url = f"/api/transactions/{transaction.pk}/"
    assert alice.patch(url, {"category": "Coffee", "notes": ""}, format="json").status_code == 200
    event = AuditEvent.objects.get(event="transaction.edited")
    assert event.payload == {"transaction": str(transaction.pk), "fields": ["category"]}
    assert (event.actor_id, event.actor_label, event.source) == (user.pk, "alice", "api")
    assert (event.connection_id, event.account_id) == (synced_connection.pk, transaction.account_id)
    # The owner reads it back through the API.
    listed = alice.get("/api/audit-events/", {"event": "transaction.edited"}).json()["results"]
    assert [e["id"] for e in listed] == [str(event.pk)]
    # The same values again: nothing changed, nothing recorded.
    assert alice.patch(url, {"category": "Coffee"}, format="json").status_code == 200
    assert AuditEvent.objects.filter(event="transaction.edited").count() == 1


def test_patch_is_limited_to_the_owner(bob, alice, synced_connection):
    transaction = Transaction.objects.filter(account__connection=synced_connection).first()
    response = bob.patch(f"/api/transactions/{transaction.pk}/", {"category": "Hacked"}, format="json")
    assert response.status_code == 404
    transaction.refresh_from_db()
    assert transaction.category != "Hacked"
    assert alice.patch(f"/api/transactions/{uuid.uuid4()}/", {"category": "x"}, format="json").status_code == 404
    assert alice.patch("/api/transactions/zzz/", {"category": "x"}, format="json").status_code == 404


def test_read_only_endpoints_refuse_writes(alice, synced_connection):
    transaction = Transaction.objects.filter(account__connection=synced_connection).first()
    account = synced_connection.accounts.first()
    attempts = [
        ("put", f"/api/transactions/{transaction.pk}/"),
        ("delete", f"/api/transactions/{transaction.pk}/"),
        ("post", "/api/transactions/"),
        ("post", "/api/accounts/"),
        ("patch", f"/api/accounts/{account.pk}/"),
        ("delete", f"/api/accounts/{account.pk}/"),
        ("post", "/api/holdings/"),
        ("post", "/api/sync-runs/"),
        ("post", "/api/audit-events/"),
    ]
    for method, path in attempts:
        response = getattr(alice, method)(path, {}, format="json")
        assert response.status_code == 405, (method, path)
        assert response.json()["code"] == "method_not_allowed"
    assert AuditEvent.objects.count() > 0
