"""The three sync actions: results, skips, validation, isolation, domain errors and their status codes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.crypto import encrypt_credentials
from sync.models import AuditEvent, Connection, SyncRun, Transaction
from tests.api.conftest import WINDOW
from tests.factories import ConnectionFactory, SyncRunFactory


def sync_url(connection, kind: str) -> str:
    return f"/api/connections/{connection.pk}/sync-{kind}/"


def test_sync_accounts_then_skip_then_force(alice, user, demo_connection):
    first = alice.post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert first.status_code == 200, first.json()
    result = first.json()
    assert result["command"] == "accounts"
    assert result["status"] == "succeeded"
    assert result["created"] == 3
    assert result["connection_id"] == str(demo_connection.pk)
    run = SyncRun.objects.get(pk=result["sync_run_id"])
    assert (run.source, run.actor_id, run.status) == ("api", user.pk, "succeeded")

    again = alice.post(sync_url(demo_connection, "accounts"), {}, format="json").json()
    assert again["status"] == "skipped"
    assert again["reason"] == "recently_synced"
    assert again["message"]

    forced = alice.post(sync_url(demo_connection, "accounts"), {"force": True}, format="json").json()
    assert forced["status"] == "succeeded"
    assert forced["unchanged"] == 3
    assert AuditEvent.objects.filter(event="sync.accounts.succeeded", source="api", actor=user).count() == 2


def test_empty_body_is_allowed(alice, demo_connection):
    response = alice.post(sync_url(demo_connection, "accounts"))
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


def test_sync_transactions_for_a_window_and_one_account(alice, demo_connection):
    response = alice.post(sync_url(demo_connection, "transactions"), WINDOW, format="json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["status"] == "succeeded"
    assert result["created"] == Transaction.objects.filter(account__connection=demo_connection).count() > 0
    run = SyncRun.objects.get(pk=result["sync_run_id"])
    assert (str(run.window_start), str(run.window_end)) == (WINDOW["start_date"], WINDOW["end_date"])

    account = demo_connection.accounts.order_by("name").first()
    one = alice.post(
        sync_url(demo_connection, "transactions"),
        {**WINDOW, "account_id": str(account.pk), "force": True},
        format="json",
    ).json()
    assert one["status"] == "succeeded"
    assert one["account_id"] == str(account.pk)
    assert one["created"] == 0
    assert one["unchanged"] > 0


def test_sync_holdings_of_an_account(alice, demo_connection):
    alice.post(sync_url(demo_connection, "accounts"), {}, format="json")
    brokerage = demo_connection.accounts.get(type="investment")
    response = alice.post(f"/api/accounts/{brokerage.pk}/sync-holdings/", {"force": False}, format="json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["command"], result["status"], result["account_id"]) == ("holdings", "succeeded", str(brokerage.pk))
    assert result["created"] == brokerage.holdings.count() > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_date": "2026-06-15", "end_date": "2026-05-01"}, "start_date"),
        ({"start_date": "2020-01-01", "end_date": "2026-06-15"}, "start_date"),  # wider than the maximum
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "99999-01-01"}, "end_date"),
        ({"end_date": 20260615}, "end_date"),
        # Days far from now would push the window arithmetic off the calendar.
        ({"start_date": "0001-01-01", "end_date": "0001-01-31"}, "start_date"),
        ({"end_date": "0001-01-01"}, "end_date"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"account_id": "not-a-uuid"}, "account_id"),
        ({"account_id": ["x"]}, "account_id"),
        ({"force": "perhaps"}, "force"),
        ({"force": [True]}, "force"),
    ],
)
def test_sync_transactions_rejects_bad_bodies(alice, demo_connection, body, field):
    response = alice.post(sync_url(demo_connection, "transactions"), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["fields"][field]


def test_sync_rejects_a_body_that_is_not_an_object(alice, demo_connection):
    response = alice.generic("POST", sync_url(demo_connection, "accounts"), "[]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"]


def test_account_of_another_connection_is_not_found(alice, user, demo_connection):
    other = ConnectionFactory(owner=user, name="Second bank")
    alice.post(sync_url(other, "accounts"), {}, format="json")
    foreign_account = other.accounts.first()
    response = alice.post(
        sync_url(demo_connection, "transactions"), {**WINDOW, "account_id": str(foreign_account.pk)}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_users_connection_and_account_cannot_be_synced(bob, other_user, synced_connection):
    brokerage = synced_connection.accounts.get(type="investment")
    for path in (
        sync_url(synced_connection, "accounts"),
        sync_url(synced_connection, "transactions"),
        f"/api/accounts/{brokerage.pk}/sync-holdings/",
    ):
        response = bob.post(path, {"force": True}, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    failed = SyncRun.objects.filter(actor=other_user)
    assert failed.count() == 3
    assert set(failed.values_list("status", "reason_code")) == {("failed", "not_found")}
    assert not failed.exclude(connection__isnull=True).exists()


def test_staff_syncer_may_sync_another_users_connection(operator, staff_syncer, user, demo_connection):
    response = operator.post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert response.status_code == 200
    run = SyncRun.objects.get(pk=response.json()["sync_run_id"])
    assert run.actor == staff_syncer
    assert run.connection.owner == user
    event = AuditEvent.objects.get(sync_run=run, event="sync.accounts.succeeded")
    assert event.actor_id == staff_syncer.pk


def test_staff_without_the_permission_cannot(demo_connection, db):
    from tests.api.conftest import token_client
    from tests.factories import UserFactory

    staff = UserFactory(username="helpdesk", is_staff=True)
    response = token_client(staff).post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert response.status_code == 404


def test_disconnected_connection_is_409_connection_inactive(alice, demo_connection):
    alice.delete(f"/api/connections/{demo_connection.pk}/")
    response = alice.post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "connection_inactive"
    assert SyncRun.objects.get(pk=body["sync_run_id"]).status == "failed"


def test_needs_reauth_is_409_reauth_required(alice, demo_connection):
    Connection.objects.filter(pk=demo_connection.pk).update(status=Connection.Status.NEEDS_REAUTH)
    response = alice.post(sync_url(demo_connection, "transactions"), WINDOW, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "reauth_required"


def test_a_running_sync_is_409_sync_in_progress(alice, user, demo_connection):
    SyncRunFactory(
        connection=demo_connection,
        actor=user,
        status=SyncRun.Status.RUNNING,
        lease_expires_at=timezone.now() + timedelta(minutes=10),
    )
    response = alice.post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "sync_in_progress"


def test_stored_credentials_the_provider_rejects_are_409(alice, demo_connection):
    Connection.objects.filter(pk=demo_connection.pk).update(
        credentials_encrypted=encrypt_credentials({"token": "not-a-demo-token"})
    )
    response = alice.post(sync_url(demo_connection, "accounts"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "credentials_invalid"


@pytest.mark.parametrize(
    ("error", "status_code"),
    [("provider_unavailable", 502), ("provider_bad_response", 502), ("reauth_required", 409)],
)
def test_provider_failures_map_to_status_codes(alice, user, failing_provider, error, status_code):
    created = alice.post(
        "/api/connections/", {"provider": failing_provider.slug, "credentials": {"error": error}}, format="json"
    )
    assert created.status_code == 201
    connection = Connection.objects.get(pk=created.json()["id"])
    response = alice.post(sync_url(connection, "accounts"), {}, format="json")
    assert response.status_code == status_code
    body = response.json()
    assert body["code"] == error
    assert body["message"] == "the test provider failed on purpose"
    assert SyncRun.objects.get(pk=body["sync_run_id"]).reason_code == error


def test_provider_rate_limit_is_503_with_retry_after(alice, failing_provider):
    created = alice.post(
        "/api/connections/",
        {"provider": failing_provider.slug, "credentials": {"error": "provider_rate_limited", "retry_after": 42}},
        format="json",
    ).json()
    response = alice.post(f"/api/connections/{created['id']}/sync-transactions/", WINDOW, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "42"
    assert response.json()["code"] == "provider_rate_limited"
    assert response.json()["retry_after"] == 42


def test_rate_limit_without_a_hint_still_sends_retry_after(alice, failing_provider):
    created = alice.post(
        "/api/connections/",
        {"provider": failing_provider.slug, "credentials": {"error": "provider_rate_limited"}},
        format="json",
    ).json()
    response = alice.post(f"/api/connections/{created['id']}/sync-accounts/", {}, format="json")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0


def test_create_maps_provider_config_errors_to_400(alice, failing_provider):
    response = alice.post(
        "/api/connections/", {"provider": failing_provider.slug, "credentials": {"error": "bogus"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"]["credentials"]
    missing = alice.post("/api/connections/", {"provider": failing_provider.slug}, format="json")
    assert missing.status_code == 400
    assert missing.json()["fields"]["credentials.error"]


def test_holdings_of_another_users_account_by_random_id(alice):
    response = alice.post(f"/api/accounts/{uuid.uuid4()}/sync-holdings/", {}, format="json")
    assert response.status_code == 404
    assert alice.post("/api/accounts/nope/sync-holdings/", {}, format="json").status_code == 404
