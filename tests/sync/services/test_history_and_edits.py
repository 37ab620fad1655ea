"""History survives deletion (runs and audit events outlive connections, accounts and users)
and the user's transaction edits go through one audited service that writes only their columns."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import ProtectedError

from sync import errors
from sync.models import Account, AuditEvent, Connection, SyncRun, Transaction
from sync.services.connections import disconnect_connection
from sync.services.edits import edit_transaction
from tests.admin.conftest import _grant
from tests.factories import UserFactory
from tests.sync.helpers import accounts, holdings, transactions

pytestmark = pytest.mark.django_db


def _history() -> tuple[set, set]:
    return set(SyncRun.objects.values_list("pk", flat=True)), set(AuditEvent.objects.values_list("pk", flat=True))


# --- item 7: history survives deletion ---------------------------------------------------


def test_runs_name_their_connection_account_and_actor(demo_connection, user, staff_syncer):
    accounts(demo_connection, staff_syncer)
    brokerage = Account.objects.get(connection=demo_connection, type="investment")
    result = holdings(brokerage, user)
    run = SyncRun.objects.get(pk=result.sync_run_id)
    assert (run.connection_label, run.account_label, run.actor_label) == ("Demo bank (demo)", str(brokerage), "alice")
    assert SyncRun.objects.get(kind="accounts").actor_label == "operator"


def test_raw_delete_of_a_connection_with_runs_is_refused(demo_connection, user):
    accounts(demo_connection, user)
    transactions(demo_connection, user)
    runs, events = _history()
    with pytest.raises(ProtectedError):
        Connection.objects.filter(pk=demo_connection.pk).delete()
    with pytest.raises(ProtectedError):
        demo_connection.delete()
    assert Connection.objects.filter(pk=demo_connection.pk).exists()
    assert Transaction.objects.filter(account__connection=demo_connection).exists()
    assert _history() == (runs, events)


def test_a_user_who_owns_connections_cannot_be_deleted(demo_connection, user):
    accounts(demo_connection, user)
    runs, events = _history()
    with pytest.raises(ProtectedError):
        user.delete()
    with pytest.raises(ProtectedError):
        get_user_model().objects.filter(pk=user.pk).delete()
    # Even once disconnected: the data and its history stay; deactivate the user instead.
    disconnect_connection(connection_id=demo_connection.pk, user_id=user.pk, source="cli")
    with pytest.raises(ProtectedError):
        user.delete()
    assert Connection.objects.filter(pk=demo_connection.pk).exists()
    assert _history()[0] == runs and _history()[1] >= events


def test_deleting_an_actor_keeps_their_runs_and_events(demo_connection, staff_syncer):
    result = accounts(demo_connection, staff_syncer)
    runs, events = _history()
    staff_syncer.delete()
    assert _history() == (runs, events)
    run = SyncRun.objects.get(pk=result.sync_run_id)
    assert (run.actor_id, run.actor_label, run.connection_id) == (None, "operator", demo_connection.pk)
    assert set(AuditEvent.objects.filter(sync_run_id=run.pk).values_list("actor_label", flat=True)) == {"operator"}


def test_deleting_an_account_keeps_its_runs_with_their_label(demo_connection, user):
    accounts(demo_connection, user)
    brokerage = Account.objects.get(connection=demo_connection, type="investment")
    result = holdings(brokerage, user)
    label = str(brokerage)
    runs, events = _history()
    brokerage.delete()
    assert _history() == (runs, events)
    run = SyncRun.objects.get(pk=result.sync_run_id)
    assert (run.account_id, run.account_label, run.connection_id) == (None, label, demo_connection.pk)


def test_staff_disconnect_needs_the_change_permission(demo_connection, user):
    helpdesk = UserFactory(username="helpdesk", is_staff=True)
    _grant(helpdesk, "view_connection", "sync_connection")
    for as_staff in (False, True):
        with pytest.raises(errors.NotFound):
            disconnect_connection(
                connection_id=demo_connection.pk, user_id=helpdesk.pk, source="admin", as_staff=as_staff
            )
    _grant(helpdesk, "change_connection")
    helpdesk = get_user_model().objects.get(pk=helpdesk.pk)  # a fresh permission cache
    with pytest.raises(errors.NotFound):  # the API's way: owner only, staff included
        disconnect_connection(connection_id=demo_connection.pk, user_id=helpdesk.pk, source="api")
    disconnect_connection(connection_id=demo_connection.pk, user_id=helpdesk.pk, source="admin", as_staff=True)
    event = AuditEvent.objects.get(event="connection.status_changed")
    assert (event.actor_label, event.source, event.payload["to"]) == ("helpdesk", "admin", "disconnected")


# --- item 8: audited edits of the user's fields --------------------------------------------


@pytest.fixture
def txn(demo_connection, user):
    transactions(demo_connection, user)
    return Transaction.objects.filter(account__connection=demo_connection).first()


def test_edit_writes_only_the_changed_columns_and_audits_the_field_names(txn, user):
    # A sync that committed after the caller read the row: its columns must survive the edit.
    Transaction.objects.filter(pk=txn.pk).update(description="renamed by the bank", notes="old note")
    edited = edit_transaction(transaction_id=txn.pk, user_id=user.pk, source="cli", category="Coffee", notes="old note")
    assert edited.category == "Coffee"
    txn.refresh_from_db()
    assert (txn.category, txn.notes, txn.description) == ("Coffee", "old note", "renamed by the bank")
    event = AuditEvent.objects.get(event="transaction.edited")
    assert event.payload == {"transaction": str(txn.pk), "fields": ["category"]}
    assert (event.actor_id, event.actor_label, event.source) == (user.pk, "alice", "cli")
    assert "Coffee" not in str(event.payload)


def test_edit_without_a_change_records_nothing(txn, user):
    edit_transaction(transaction_id=txn.pk, user_id=user.pk, source="api", category=txn.category, notes=txn.notes)
    edit_transaction(transaction_id=txn.pk, user_id=user.pk, source="api")
    assert not AuditEvent.objects.filter(event="transaction.edited").exists()


def test_edit_is_owner_only_unless_staff_with_the_change_permission(txn, other_user, staff_syncer):
    for actor, as_staff in ((other_user, False), (other_user, True), (staff_syncer, False), (staff_syncer, True)):
        with pytest.raises(errors.NotFound):
            edit_transaction(transaction_id=txn.pk, user_id=actor.pk, source="api", notes="x", as_staff=as_staff)
    _grant(staff_syncer, "change_transaction")
    with pytest.raises(errors.NotFound):
        edit_transaction(transaction_id=txn.pk, user_id=staff_syncer.pk, source="api", notes="x")
    edit_transaction(transaction_id=txn.pk, user_id=staff_syncer.pk, source="admin", notes="x", as_staff=True)
    assert AuditEvent.objects.get(event="transaction.edited").actor_label == "operator"


def test_edit_rejects_overlong_values(txn, user):
    with pytest.raises(errors.ValidationError) as raised:
        edit_transaction(transaction_id=txn.pk, user_id=user.pk, source="api", category="c" * 256, notes="n" * 10_001)
    assert set(raised.value.fields) == {"category", "notes"}
    txn.refresh_from_db()
    assert (txn.category, txn.notes) == ("", "")
