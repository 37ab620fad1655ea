"""POST/GET/DELETE /api/connections/: create with credentials, list, retrieve, disconnect."""

from __future__ import annotations

import uuid

import pytest

from sync.crypto import decrypt_credentials
from sync.models import AuditEvent, Connection

SECRET_KEYS = {"credentials", "credentials_encrypted", "token", "config", "cursor"}


def test_create_demo_connection_returns_201_without_credentials(alice, user):
    response = alice.post(
        "/api/connections/", {"provider": "demo", "name": "My bank", "credentials": {"seed": 7}}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["provider"] == "demo"
    assert body["name"] == "My bank"
    assert body["status"] == "active"
    assert body["owner"] == user.username
    assert not SECRET_KEYS & set(body)
    connection = Connection.objects.get(pk=body["id"])
    assert connection.owner == user
    assert connection.config["seed"] == 7
    assert decrypt_credentials(connection.credentials_encrypted)["token"].startswith("demo-")
    assert "demo-" not in response.content.decode()
    event = AuditEvent.objects.get(connection_id=connection.pk, event="connection.created")
    assert event.source == "api"
    assert event.actor_id == user.pk


def test_create_with_defaults_names_the_connection_after_the_provider(alice):
    response = alice.post("/api/connections/", {"provider": "demo"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"].startswith("Demo bank")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "provider"),
        ({"provider": "nope"}, "provider"),
        ({"provider": 12}, "provider"),
        ({"provider": None}, "provider"),
        ({"provider": "demo", "credentials": "seed=1"}, "credentials"),
        ({"provider": "demo", "credentials": ["seed"]}, "credentials"),
        ({"provider": "demo", "credentials": {"password": "x"}}, "credentials.password"),
        ({"provider": "demo", "credentials": {"seed": {"a": 1}}}, "credentials.seed"),
        ({"provider": "demo", "credentials": {"seed": True}}, "credentials.seed"),
        ({"provider": "demo", "credentials": {"seed": 1.5}}, "credentials.seed"),
        ({"provider": "demo", "credentials": {"seed": "x" * 5000}}, "credentials.seed"),
        # The provider's own checks: whole numbers within range.
        ({"provider": "demo", "credentials": {"seed": "abc"}}, "credentials"),
        ({"provider": "demo", "credentials": {"accounts": 10**40}}, "credentials"),
        ({"provider": "demo", "credentials": {"history_days": -1}}, "credentials"),
        ({"provider": "demo", "name": "n" * 201}, "name"),
        ({"provider": "demo", "name": ["a"]}, "name"),
        ({"provider": "demo", "name": "nul\x00byte"}, "name"),
    ],
)
def test_create_rejects_bad_bodies_with_field_messages(alice, body, field):
    response = alice.post("/api/connections/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["message"]
    assert field in error["fields"], error
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert not Connection.objects.exists()


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "null", "12"])
def test_create_rejects_json_that_is_not_an_object(alice, payload):
    response = alice.generic("POST", "/api/connections/", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_malformed_json_is_a_parse_error(alice):
    response = alice.generic("POST", "/api/connections/", '{"provider": "demo",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_non_json_body_is_unsupported_media_type(alice):
    response = alice.post("/api/connections/", "provider=demo", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_huge_integer_in_json_is_a_parse_error_not_a_crash(alice):
    payload = '{"provider": "demo", "credentials": {"seed": ' + "9" * 5000 + "}}"
    response = alice.generic("POST", "/api/connections/", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("parse_error", "validation_error")


def test_nan_is_not_json(alice):
    response = alice.generic(
        "POST",
        "/api/connections/",
        '{"provider": "demo", "credentials": {"seed": NaN}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_list_and_retrieve_show_only_own_connections(alice, bob, user, other_user, demo_connection):
    from tests.factories import ConnectionFactory

    bobs = ConnectionFactory(owner=other_user, name="Bob's bank")

    listed = alice.get("/api/connections/").json()
    assert listed["count"] == 1
    assert [c["id"] for c in listed["results"]] == [str(demo_connection.pk)]
    assert not SECRET_KEYS & set(listed["results"][0])
    assert alice.get(f"/api/connections/{demo_connection.pk}/").json()["name"] == "Demo bank"

    not_found = alice.get(f"/api/connections/{bobs.pk}/")
    assert not_found.status_code == 404
    assert not_found.json()["code"] == "not_found"
    assert [c["id"] for c in bob.get("/api/connections/").json()["results"]] == [str(bobs.pk)]


def test_staff_syncer_may_sync_but_not_list_read_or_disconnect_another_users_connection(operator, demo_connection):
    # sync.sync_connection syncs; through the API staff see and change only their own data.
    assert operator.get("/api/connections/").json()["results"] == []
    url = f"/api/connections/{demo_connection.pk}/"
    for response in (operator.get(url), operator.delete(url)):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    demo_connection.refresh_from_db()
    assert demo_connection.status == "active"
    assert not AuditEvent.objects.filter(event="connection.status_changed").exists()
    assert operator.post(f"{url}sync-accounts/", {}, format="json").status_code == 200


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g", str(uuid.uuid4())])
def test_unknown_or_malformed_ids_are_404(alice, bad_id):
    for method, path in [
        ("get", f"/api/connections/{bad_id}/"),
        ("delete", f"/api/connections/{bad_id}/"),
        ("post", f"/api/connections/{bad_id}/sync-accounts/"),
        ("post", f"/api/connections/{bad_id}/sync-transactions/"),
    ]:
        response = getattr(alice, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "not_found"


def test_delete_disconnects_and_keeps_the_data(alice, user, synced_connection):
    accounts = synced_connection.accounts.count()
    response = alice.delete(f"/api/connections/{synced_connection.pk}/")
    assert response.status_code == 204
    synced_connection.refresh_from_db()
    assert synced_connection.status == Connection.Status.DISCONNECTED
    assert synced_connection.accounts.count() == accounts
    assert alice.get(f"/api/connections/{synced_connection.pk}/").json()["status"] == "disconnected"
    assert AuditEvent.objects.filter(connection_id=synced_connection.pk, event="connection.status_changed").exists()
    # Disconnecting again changes nothing and is not an error.
    assert alice.delete(f"/api/connections/{synced_connection.pk}/").status_code == 204


def test_cannot_delete_another_users_connection(bob, demo_connection):
    response = bob.delete(f"/api/connections/{demo_connection.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    demo_connection.refresh_from_db()
    assert demo_connection.status == Connection.Status.ACTIVE


def test_connections_have_no_put_or_patch(alice, demo_connection):
    for method in ("put", "patch"):
        response = getattr(alice, method)(f"/api/connections/{demo_connection.pk}/", {"name": "x"}, format="json")
        assert response.status_code == 405
        assert response.json()["code"] == "method_not_allowed"
