"""Least privilege in the admin: syncing needs `sync.sync_connection` and the view permission;
connections are disconnected, never deleted; transaction edits go through the audited service."""

from __future__ import annotations

import pytest
from django.db.models.signals import pre_save
from django.test import Client

from sync.models import Account, AuditEvent, Connection, SyncRun, Transaction
from sync.services.connection_sync import sync_connection
from tests.admin.conftest import _grant
from tests.admin.helpers import change_url, changelist_url, messages_of, run_action, sync_url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _staff_client(username: str, *codenames: str) -> Client:
    staff = UserFactory(username=username, is_staff=True)
    _grant(staff, *codenames)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def synced(live_connection, user):
    outcomes = sync_connection(connection_id=live_connection.pk, user_id=user.pk, source="cli")
    assert not any(outcome.failed for outcome in outcomes)
    return live_connection


# --- item 4: the sync permission syncs what one may see ---------------------------------


def test_sync_permission_alone_cannot_post_a_per_object_sync(synced):
    only_sync = _staff_client("syncer", "sync_connection")
    brokerage = Account.objects.get(connection=synced, type="investment")
    before = SyncRun.objects.count()
    assert only_sync.get(changelist_url("connection")).status_code == 403
    assert only_sync.post(sync_url("connection", synced.pk), {"kind": "accounts", "force": "1"}).status_code == 403
    assert only_sync.post(sync_url("account", brokerage.pk), {"kind": "holdings", "force": "1"}).status_code == 403
    response = only_sync.post(
        changelist_url("connection"), {"action": "sync_accounts", "_selected_action": [str(synced.pk)], "index": 0}
    )
    assert response.status_code == 403
    assert SyncRun.objects.count() == before


def test_view_and_sync_permissions_together_sync(synced):
    client = _staff_client("syncer", "sync_connection", "view_connection", "view_account")
    brokerage = Account.objects.get(connection=synced, type="investment")
    response = client.post(sync_url("connection", synced.pk), {"kind": "accounts", "force": "1"}, follow=True)
    assert messages_of(response) == ["Alice bank (demo): Synced 3 accounts: 3 unchanged"]
    response = client.post(sync_url("account", brokerage.pk), {"kind": "holdings", "force": "1"})
    assert response.status_code == 302
    assert SyncRun.objects.filter(source="admin", status="succeeded").count() == 2
    page = client.get(change_url("connection", synced.pk)).content.decode()
    assert sync_url("connection", synced.pk) in page


# --- item 7: disconnect instead of delete -------------------------------------------------


def test_connections_cannot_be_deleted_in_the_admin(operator_client, superuser_client, synced):
    delete_url = change_url("connection", synced.pk).replace("/change/", "/delete/")
    for client in (operator_client, superuser_client):
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
        actions = client.get(changelist_url("connection")).context["action_form"].fields["action"].choices
        assert "delete_selected" not in {name for name, _ in actions}
        assert "disconnect" in {name for name, _ in actions}
    assert Connection.objects.filter(pk=synced.pk).exists()


def test_disconnect_action_keeps_data_and_is_audited(operator_client, operator, synced):
    transactions = Transaction.objects.filter(account__connection=synced).count()
    runs = SyncRun.objects.filter(connection=synced).count()
    response = run_action(operator_client, "connection", "disconnect", [synced.pk])
    assert messages_of(response) == ["Alice bank (demo): disconnected (its data and history are kept)"]
    synced.refresh_from_db()
    assert synced.status == "disconnected"
    assert Transaction.objects.filter(account__connection=synced).count() == transactions
    assert SyncRun.objects.filter(connection=synced).count() == runs
    event = AuditEvent.objects.get(connection_id=synced.pk, event="connection.status_changed")
    assert (event.actor_id, event.actor_label, event.source) == (operator.pk, "operator", "admin")
    assert (event.payload["from"], event.payload["to"]) == ("active", "disconnected")
    # Again: nothing to change, no second event.
    response = run_action(operator_client, "connection", "disconnect", [synced.pk])
    assert messages_of(response) == ["Alice bank (demo): already disconnected"]
    assert AuditEvent.objects.filter(event="connection.status_changed").count() == 1


def test_disconnect_button_needs_the_change_permission(operator_client, viewer_client, synced):
    url = change_url("connection", synced.pk).replace("/change/", "/disconnect/")
    assert url in operator_client.get(change_url("connection", synced.pk)).content.decode()
    assert url not in viewer_client.get(change_url("connection", synced.pk)).content.decode()
    assert viewer_client.post(url).status_code == 403
    assert operator_client.get(url).status_code == 405
    synced.refresh_from_db()
    assert synced.status == "active"
    response = operator_client.post(url, follow=True)
    assert messages_of(response) == ["Alice bank (demo): disconnected (its data and history are kept)"]
    synced.refresh_from_db()
    assert synced.status == "disconnected"
    assert url not in operator_client.get(change_url("connection", synced.pk)).content.decode()


# --- item 8: the admin's transaction edit --------------------------------------------------


def test_admin_edit_writes_only_the_users_columns_and_is_audited(operator_client, operator, synced):
    txn = Transaction.objects.filter(account__connection=synced).first()

    def sync_commits_meanwhile(sender, instance, **kwargs):
        # A sync updating the provider's columns between the form's read and the save.
        if instance.pk == txn.pk:
            Transaction.objects.filter(pk=txn.pk).update(description="renamed by the bank")

    pre_save.connect(sync_commits_meanwhile, sender=Transaction)
    try:
        response = operator_client.post(
            change_url("transaction", txn.pk), {"category": "treats", "notes": txn.notes, "_save": "Save"}
        )
    finally:
        pre_save.disconnect(sync_commits_meanwhile, sender=Transaction)
    assert response.status_code == 302
    txn.refresh_from_db()
    assert (txn.category, txn.description) == ("treats", "renamed by the bank")
    event = AuditEvent.objects.get(event="transaction.edited")
    assert event.payload == {"transaction": str(txn.pk), "fields": ["category"]}
    assert (event.actor_id, event.actor_label, event.source) == (operator.pk, "operator", "admin")
    assert (event.connection_id, event.account_id) == (synced.pk, txn.account_id)

    # Saving the form unchanged changes nothing and records nothing.
    operator_client.post(change_url("transaction", txn.pk), {"category": "treats", "notes": "", "_save": "Save"})
    assert AuditEvent.objects.filter(event="transaction.edited").count() == 1


def test_admin_edit_rejects_overlong_notes_on_the_form(operator_client, synced):
    txn = Transaction.objects.filter(account__connection=synced).first()
    response = operator_client.post(
        change_url("transaction", txn.pk), {"category": "", "notes": "x" * 10_001, "_save": "Save"}
    )
    assert response.status_code == 200
    assert "notes" in response.context["adminform"].form.errors
    txn.refresh_from_db()
    assert txn.notes == ""
    assert not AuditEvent.objects.filter(event="transaction.edited").exists()
