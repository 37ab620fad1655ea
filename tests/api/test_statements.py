"""The statement upload: `POST /api/connections/` with provider `ofx`, then `POST .../statements/` (multipart)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sync.models import Account, AuditEvent, SyncRun, Transaction
from tests.providers.ofx_helpers import CHECKING, sample

pytestmark = pytest.mark.django_db


def upload(client, connection_id, content: bytes, *, name="chase_checking.qfx", **extra):
    data = {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream"), **extra}
    return client.post(f"/api/connections/{connection_id}/statements/", data, format="multipart")


def create_files_connection(client) -> str:
    response = client.post("/api/connections/", {"provider": "ofx", "name": "My bank files"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["provider"] == "ofx"
    return response.json()["id"]


def test_create_then_upload_end_to_end(alice):
    connection_id = create_files_connection(alice)

    response = upload(alice, connection_id, sample(CHECKING))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["command"], body["status"], body["created"], body["connection_id"]) == (
        "statement",
        "succeeded",
        5,
        connection_id,
    )
    assert Account.objects.get(connection_id=connection_id).balance == Decimal("5012.77")
    assert Transaction.objects.filter(account__connection_id=connection_id).count() == 4
    listed = alice.get("/api/transactions/").json()
    assert listed["count"] == 4

    again = upload(alice, connection_id, sample(CHECKING)).json()
    assert (again["status"], again["reason"]) == ("skipped", "already_imported")
    forced = upload(alice, connection_id, sample(CHECKING), force="true").json()
    assert (forced["status"], forced["created"], forced["updated"], forced["unchanged"]) == ("succeeded", 0, 0, 5)


def test_bad_file_is_a_400_validation_error_and_writes_nothing(alice):
    connection_id = create_files_connection(alice)

    response = upload(alice, connection_id, b"Date,Amount\n2024-01-01,-1.00\n", name="export.csv")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "not an OFX or QFX file" in response.json()["message"]
    assert not Account.objects.exists()
    run = SyncRun.objects.get(kind="statement")
    assert (run.status, run.source) == ("failed", "api")
    failed = AuditEvent.objects.get(event="sync.statement.failed")
    assert failed.payload["file"]["name"] == "export.csv"


def test_file_over_the_limit_is_refused_before_it_is_read(alice, settings):
    connection_id = create_files_connection(alice)
    settings.FINSYNC_MAX_STATEMENT_BYTES = 1000

    small_over = upload(alice, connection_id, sample(CHECKING))  # 1.4 kB: read up to the limit, then refused
    huge = upload(alice, connection_id, b"x" * 200_000)  # far over: refused from Content-Length

    assert small_over.status_code == 400 and "over the limit of 1000 bytes" in small_over.json()["message"]
    assert huge.status_code == 413 and huge.json()["code"] == "request_too_large"
    assert not Transaction.objects.exists()


def test_missing_file_field_is_a_400(alice):
    connection_id = create_files_connection(alice)
    response = alice.post(f"/api/connections/{connection_id}/statements/", {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["fields"]


def test_another_users_connection_is_404(alice, bob):
    connection_id = create_files_connection(alice)
    response = upload(bob, connection_id, sample(CHECKING))
    assert response.status_code == 404
    assert not Account.objects.exists()


def test_json_body_is_refused_on_the_upload(alice):
    connection_id = create_files_connection(alice)
    response = alice.post(f"/api/connections/{connection_id}/statements/", {"file": "x"}, format="json")
    assert response.status_code == 415


def test_file_connection_takes_no_credentials(alice):
    response = alice.post(
        "/api/connections/", {"provider": "ofx", "credentials": {"account_key": "mine"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_sync_of_a_file_connection_is_skipped_with_a_reason(alice):
    connection_id = create_files_connection(alice)
    body = alice.post(f"/api/connections/{connection_id}/sync-transactions/", {}, format="json").json()
    assert (body["status"], body["reason"]) == ("skipped", "imports_files")
