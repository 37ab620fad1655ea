"""Connection admin: sync actions and buttons, their messages, and who may use them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sync.crypto import encrypt_credentials
from sync.models import Account, AuditEvent, Connection, Holding, SyncRun, Transaction
from tests.admin.helpers import change_url, changelist_url, messages_of, run_action, sync_url
from tests.factories import ConnectionFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

SKIP = "synced less than a minute ago (use force to sync again)"


def test_changelist_shows_status_last_sync_and_error_columns(operator_client, live_connection):
    Connection.objects.filter(pk=live_connection.pk).update(last_error="the bank said no", last_error_code="oops")
    response = operator_client.get(changelist_url("connection"))
    assert response.status_code == 200
    content = response.content.decode()
    for heading in ("Owner", "Provider", "Status", "Accounts synced at", "Holdings synced at", "Last error"):
        assert heading in content
    assert "Alice bank" in content
    assert "sync-status-active" in content
    assert "oops" in content and "the bank said no" in content


def test_changelist_filters_and_search(operator_client, live_connection, other_user):
    ConnectionFactory(owner=other_user, name="Bob bank", config={})
    response = operator_client.get(changelist_url("connection"), {"q": "bob"})
    assert [c.name for c in response.context["cl"].result_list] == ["Bob bank"]
    response = operator_client.get(changelist_url("connection"), {"status__exact": "active", "provider": "demo"})
    assert {c.name for c in response.context["cl"].result_list} == {"Alice bank", "Bob bank"}
    response = operator_client.get(changelist_url("connection"), {"status__exact": "needs_reauth"})
    assert list(response.context["cl"].result_list) == []


def test_sync_actions_are_offered_only_with_the_permission(operator_client, viewer_client, live_connection):
    names = {"sync_everything", "sync_accounts", "sync_transactions", "sync_holdings"}
    names |= {f"{name}_force" for name in names}
    response = operator_client.get(changelist_url("connection"))
    assert names <= {name for name, _ in response.context["action_form"].fields["action"].choices}
    assert "Sync everything (force)" in response.content.decode()
    response = viewer_client.get(changelist_url("connection"))
    assert response.status_code == 200
    # The viewer may run no action at all, so Django renders no action form.
    assert response.context["action_form"] is None
    assert "Sync everything" not in response.content.decode()


def test_sync_accounts_action_reports_counts_then_skips(operator_client, operator, live_connection):
    response = run_action(operator_client, "connection", "sync_accounts", [live_connection.pk])
    assert messages_of(response) == ["Alice bank (demo): Synced 3 accounts: 3 created"]
    assert Account.objects.filter(connection=live_connection).count() == 3
    run = SyncRun.objects.get(connection=live_connection, kind="accounts")
    assert (run.status, run.source, run.actor) == ("succeeded", "admin", operator)

    response = run_action(operator_client, "connection", "sync_accounts", [live_connection.pk])
    assert messages_of(response) == [f"Alice bank (demo): Skipped accounts: {SKIP}"]

    response = run_action(operator_client, "connection", "sync_accounts_force", [live_connection.pk])
    assert messages_of(response) == ["Alice bank (demo): Synced 3 accounts: 3 unchanged"]
    assert SyncRun.objects.filter(connection=live_connection, kind="accounts", force=True).count() == 1


def test_sync_transactions_action_uses_the_default_window(operator_client, live_connection):
    response = run_action(operator_client, "connection", "sync_transactions", [live_connection.pk])
    [message] = messages_of(response)
    assert re.fullmatch(r"Alice bank \(demo\): Synced \d+ transactions: \d+ created", message), message
    assert Transaction.objects.filter(account__connection=live_connection).exists()
    run = SyncRun.objects.get(connection=live_connection, kind="transactions")
    assert run.window_end == timezone.localdate()

    response = run_action(operator_client, "connection", "sync_transactions_force", [live_connection.pk])
    [message] = messages_of(response)
    assert re.fullmatch(r"Alice bank \(demo\): Synced \d+ transactions: \d+ unchanged", message), message


def test_sync_holdings_action_reports_each_investment_account(operator_client, live_connection):
    run_action(operator_client, "connection", "sync_accounts", [live_connection.pk])
    brokerage = Account.objects.get(connection=live_connection, type="investment")
    response = run_action(operator_client, "connection", "sync_holdings", [live_connection.pk])
    [message] = messages_of(response)
    prefix = re.escape(f"Alice bank (demo) · {brokerage}: ")
    assert re.fullmatch(rf"{prefix}Synced \d+ holdings: \d+ created", message), message
    assert Holding.objects.filter(account=brokerage).exists()

    response = run_action(operator_client, "connection", "sync_holdings_force", [live_connection.pk])
    assert "unchanged" in messages_of(response)[0]


def test_sync_everything_action_on_several_connections(operator_client, live_connection, other_user):
    bob = ConnectionFactory(owner=other_user, name="Bob bank", config={})
    response = run_action(operator_client, "connection", "sync_everything", [live_connection.pk, bob.pk])
    shown = messages_of(response)
    assert len(shown) == 6  # accounts, transactions, holdings of the brokerage, for each connection
    assert shown[0] == "Alice bank (demo): Synced 3 accounts: 3 created"
    assert shown[3] == "Bob bank (demo): Synced 3 accounts: 3 created"
    assert all("Synced" in message for message in shown)
    # One handler call per connection, all under the request's correlation id.
    runs = SyncRun.objects.filter(source="admin")
    assert runs.filter(connection=bob).count() == 3 and runs.filter(connection=live_connection).count() == 3
    assert len({run.correlation_id for run in runs}) == 1

    brokerage = Account.objects.get(connection=live_connection, type="investment")
    response = run_action(operator_client, "connection", "sync_everything", [live_connection.pk])
    assert messages_of(response) == [
        f"Alice bank (demo): Skipped accounts: {SKIP}",
        f"Alice bank (demo): Skipped transactions: {SKIP}",
        f"Alice bank (demo) · {brokerage}: Skipped holdings: {SKIP}",
    ]

    response = run_action(operator_client, "connection", "sync_everything_force", [live_connection.pk])
    assert [m.split(": ")[1].split(" ")[0] for m in messages_of(response)] == ["Synced"] * 3


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            Connection.Status.NEEDS_REAUTH,
            "Alice bank (demo): Accounts sync failed: Needs re-authentication "
            "(the connection needs re-authentication with the provider)",
        ),
        (
            Connection.Status.DISCONNECTED,
            "Alice bank (demo): Accounts sync failed: Disconnected (the connection is disconnected)",
        ),
    ],
)
def test_sync_of_an_unusable_connection_reports_the_error(operator_client, live_connection, status, expected):
    Connection.objects.filter(pk=live_connection.pk).update(status=status)
    response = run_action(operator_client, "connection", "sync_everything", [live_connection.pk])
    # The batch stops after the first such failure: the rest would fail the same way.
    assert messages_of(response) == [expected]
    assert response.context["messages"]._loaded_messages[0].level_tag == "error"
    assert SyncRun.objects.get(connection=live_connection).status == "failed"


def test_rejected_credentials_are_reported(operator_client, live_connection):
    Connection.objects.filter(pk=live_connection.pk).update(credentials_encrypted=encrypt_credentials({"token": "x"}))
    response = run_action(operator_client, "connection", "sync_accounts", [live_connection.pk])
    [message] = messages_of(response)
    assert message.startswith("Alice bank (demo): Accounts sync failed: Credentials rejected by the provider (")
    assert Connection.objects.get(pk=live_connection.pk).last_error_code == "credentials_invalid"


def test_a_running_sync_is_reported_as_already_syncing(operator_client, live_connection):
    SyncRunFactory(connection=live_connection, status="running", lease_expires_at=timezone.now() + timedelta(minutes=5))
    response = run_action(operator_client, "connection", "sync_accounts", [live_connection.pk])
    [message] = messages_of(response)
    assert message.startswith("Alice bank (demo): Accounts sync failed: Already syncing (")


def test_staff_without_the_permission_get_403_for_a_sync_action(viewer_client, viewer, live_connection):
    # Even their own connection: the console's controls are for permission holders.
    own = ConnectionFactory(owner=viewer, name="Viewer bank", config={})
    for pk in (live_connection.pk, own.pk):
        response = viewer_client.post(
            changelist_url("connection"), {"action": "sync_everything", "_selected_action": [str(pk)], "index": 0}
        )
        assert response.status_code == 403
    assert not SyncRun.objects.exists()


# --- the change page's buttons ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "first"),
    [
        ("everything", "Alice bank (demo): Synced 3 accounts: 3 created"),
        ("accounts", "Alice bank (demo): Synced 3 accounts: 3 created"),
        ("transactions", "Alice bank (demo): Synced "),
        # No investment account is known before the accounts are synced.
        ("holdings", "Alice bank (demo): No accounts with holdings to sync (sync accounts first)"),
    ],
)
def test_sync_button_runs_one_kind_and_returns_to_the_page(operator_client, live_connection, kind, first):
    response = operator_client.post(sync_url("connection", live_connection.pk), {"kind": kind})
    assert response.status_code == 302
    assert response["Location"] == change_url("connection", live_connection.pk)
    shown = messages_of(operator_client.get(response["Location"]))
    assert shown[0].startswith(first)
    assert set(SyncRun.objects.values_list("kind", flat=True)) <= {"accounts", "transactions", "holdings"}


def test_sync_button_force_checkbox(operator_client, live_connection):
    url = sync_url("connection", live_connection.pk)
    response = operator_client.post(url, {"kind": "accounts"}, follow=True)
    assert messages_of(response) == ["Alice bank (demo): Synced 3 accounts: 3 created"]
    response = operator_client.post(url, {"kind": "accounts"}, follow=True)
    assert messages_of(response) == [f"Alice bank (demo): Skipped accounts: {SKIP}"]
    response = operator_client.post(url, {"kind": "accounts", "force": "1"}, follow=True)
    assert messages_of(response) == ["Alice bank (demo): Synced 3 accounts: 3 unchanged"]


def test_change_page_has_the_sync_buttons_only_with_the_permission(operator_client, viewer_client, live_connection):
    page = operator_client.get(change_url("connection", live_connection.pk)).content.decode()
    assert f'action="{sync_url("connection", live_connection.pk)}"' in page
    for label in ("Sync everything", "Sync accounts", "Sync transactions", "Sync holdings", 'name="force"'):
        assert label in page
    assert "csrfmiddlewaretoken" in page
    page = viewer_client.get(change_url("connection", live_connection.pk)).content.decode()
    assert "Sync everything" not in page and sync_url("connection", live_connection.pk) not in page


def test_sync_button_refuses_staff_without_the_permission(viewer_client, live_connection):
    response = viewer_client.post(sync_url("connection", live_connection.pk), {"kind": "everything"})
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


def test_sync_button_is_post_only_and_checks_its_input(operator_client, live_connection):
    url = sync_url("connection", live_connection.pk)
    assert operator_client.get(url).status_code == 405
    assert operator_client.post(url, {"kind": "everything-else"}).status_code == 400
    missing = sync_url("connection", "00000000-0000-0000-0000-000000000000")
    response = operator_client.post(missing, {"kind": "accounts"}, follow=True)
    assert "00000000-0000-0000-0000-000000000000" in messages_of(response)[0]
    assert not SyncRun.objects.exists()


def test_sync_button_needs_a_csrf_token_and_a_login(operator, live_connection):
    url = sync_url("connection", live_connection.pk)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    assert strict.post(url, {"kind": "accounts"}).status_code == 403
    anonymous = Client().post(url, {"kind": "accounts"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not SyncRun.objects.exists()


def test_change_page_links_to_its_runs_and_audit_events(operator_client, live_connection, other_user):
    other = ConnectionFactory(owner=other_user, name="Bob bank", config={})
    for connection in (live_connection, other):
        operator_client.post(sync_url("connection", connection.pk), {"kind": "accounts"})
    page = operator_client.get(change_url("connection", live_connection.pk)).content.decode()
    runs_link = f"{changelist_url('syncrun')}?connection={live_connection.pk}"
    events_link = f"{changelist_url('auditevent')}?connection={live_connection.pk}"
    assert runs_link in page and events_link in page
    runs = operator_client.get(runs_link).context["cl"].result_list
    assert [run.connection_id for run in runs] == [live_connection.pk]
    events = operator_client.get(events_link).context["cl"].result_list
    assert {event.connection_id for event in events} == {live_connection.pk}
    assert {e.event for e in events} >= {"connection.created", "sync.accounts.attempted", "sync.accounts.succeeded"}
    assert AuditEvent.objects.filter(source="admin", connection_id=live_connection.pk).exists()
