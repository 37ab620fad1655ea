"""The audit log: append-only, complete for every attempt, and free of secrets."""

from __future__ import annotations

import json

import pytest

from sync import errors
from sync.crypto import decrypt_credentials
from sync.models import AuditEvent, AuditLogIsAppendOnly, Connection, SyncRun
from sync.services.connections import disconnect_connection, rotate_all_credentials
from tests.factories import ConnectionFactory
from tests.sync.helpers import accounts, set_config, transactions

pytestmark = pytest.mark.django_db


def test_audit_event_refuses_update_and_delete(demo_connection, user):
    accounts(demo_connection, user)
    event = AuditEvent.objects.first()
    event.payload = {"tampered": True}
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(payload={})
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).payload != {"tampered": True}


def test_connection_lifecycle_is_audited(user):
    connection = ConnectionFactory(owner=user)
    created = AuditEvent.objects.get(event="connection.created")
    assert (created.connection_id, created.actor, created.payload["provider"]) == (connection.pk, user, "demo")

    disconnect_connection(connection_id=connection.pk, user_id=user.pk, source="api")

    connection.refresh_from_db()
    assert connection.status == "disconnected"
    change = AuditEvent.objects.get(event="connection.status_changed")
    assert (change.source, change.payload["from"], change.payload["to"]) == ("api", "active", "disconnected")
    with pytest.raises(errors.ConnectionInactive):
        accounts(connection, user)


def test_other_user_cannot_disconnect(demo_connection, other_user):
    with pytest.raises(errors.NotFound):
        disconnect_connection(connection_id=demo_connection.pk, user_id=other_user.pk, source="api")
    demo_connection.refresh_from_db()
    assert demo_connection.status == "active"


def test_every_outcome_leaves_a_run_and_events(user, flaky_provider):
    connection = ConnectionFactory(owner=user, provider="flaky")
    accounts(connection, user)  # succeeded
    accounts(connection, user)  # skipped
    set_config(connection, fail="transactions")
    with pytest.raises(errors.ProviderUnavailable):
        transactions(connection, user)  # failed

    assert list(SyncRun.objects.order_by("started_at").values_list("status", flat=True)) == [
        "succeeded",
        "skipped",
        "failed",
    ]
    for run in SyncRun.objects.all():
        names = set(AuditEvent.objects.filter(correlation_id=run.correlation_id).values_list("event", flat=True))
        assert names == {f"sync.{run.kind}.attempted", f"sync.{run.kind}.{run.status}"}


def test_credentials_are_encrypted_and_never_audited(user, flaky_provider):
    connection = ConnectionFactory(owner=user, provider="flaky")
    token = decrypt_credentials(connection.credentials_encrypted)["token"]
    assert token.startswith("demo-") and token not in connection.credentials_encrypted
    accounts(connection, user)
    set_config(connection, fail="accounts", fail_with="auth")
    with pytest.raises(errors.ReauthRequired):
        accounts(connection, user, force=True)

    audit_dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    runs_dump = json.dumps(list(SyncRun.objects.values()), default=str)
    connection_dump = json.dumps(list(Connection.objects.values("config", "last_error", "name")), default=str)
    for dump in (audit_dump, runs_dump, connection_dump):
        assert token not in dump
        assert connection.credentials_encrypted not in dump


def test_rotate_credentials_reencrypts_with_the_new_key(demo_connection, user, settings):
    from cryptography.fernet import Fernet

    old_token = demo_connection.credentials_encrypted
    secret = decrypt_credentials(old_token)
    new_key = Fernet.generate_key().decode()
    settings.FINSYNC_ENCRYPTION_KEYS = [new_key, *settings.FINSYNC_ENCRYPTION_KEYS]

    assert rotate_all_credentials() == 1

    demo_connection.refresh_from_db()
    assert demo_connection.credentials_encrypted != old_token
    settings.FINSYNC_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert decrypt_credentials(demo_connection.credentials_encrypted) == secret
    assert accounts(demo_connection, user).status == "succeeded"
    assert AuditEvent.objects.filter(event="connection.credentials_rotated").count() == 1


def test_database_refuses_audit_changes_even_in_raw_sql(demo_connection, user):
    from django.db import DatabaseError, connection, transaction

    from sync.audit import dbguard

    accounts(demo_connection, user)
    event = AuditEvent.objects.first()
    pk = event.pk.hex if connection.vendor == "sqlite" else str(event.pk)
    dbguard.allow_purge_everywhere(False)
    try:
        with connection.cursor() as cursor:
            for statement in (
                "UPDATE sync_auditevent SET event = 'forged' WHERE id = %s",
                "DELETE FROM sync_auditevent WHERE id = %s",
            ):
                with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                    cursor.execute(statement, [pk])
    finally:
        dbguard.allow_purge_everywhere(True)
    assert AuditEvent.objects.filter(pk=event.pk, event=event.event).exists()
