"""Transactions, holdings, sync runs and audit events in the admin: what may change, filters, search."""

from __future__ import annotations

import uuid

import pytest

from sync.models import Account, AuditEvent, Holding, SyncRun, Transaction
from sync.services.connection_sync import sync_connection
from tests.admin.helpers import change_url, changelist_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(live_connection, user):
    sync_connection(connection_id=live_connection.pk, user_id=user.pk, source="cli")
    return live_connection


def _add_url(model: str) -> str:
    return changelist_url(model) + "add/"


def _delete_url(model: str, pk) -> str:
    return change_url(model, pk).replace("/change/", "/delete/")


def test_transaction_category_and_notes_are_editable_and_nothing_else(operator_client, synced):
    txn = Transaction.objects.filter(account__connection=synced).first()
    before = (txn.amount, txn.description, txn.posted_date, txn.status)
    response = operator_client.post(
        change_url("transaction", txn.pk),
        {"category": "treats", "notes": "birthday", "amount": "999", "description": "changed", "_save": "Save"},
    )
    assert response.status_code == 302
    txn.refresh_from_db()
    assert (txn.category, txn.notes) == ("treats", "birthday")
    assert (txn.amount, txn.description, txn.posted_date, txn.status) == before
    form = operator_client.get(change_url("transaction", txn.pk)).context["adminform"].form
    assert set(form.fields) == {"category", "notes"}


def test_transactions_cannot_be_added_or_deleted(operator_client, superuser_client, synced):
    txn = Transaction.objects.filter(account__connection=synced).first()
    for client in (operator_client, superuser_client):
        assert client.get(_add_url("transaction")).status_code == 403
        assert client.post(_delete_url("transaction", txn.pk), {"post": "yes"}).status_code == 403
    assert Transaction.objects.filter(pk=txn.pk).exists()


def test_transaction_filters_search_and_date_hierarchy(operator_client, synced):
    url = changelist_url("transaction")
    txn = Transaction.objects.filter(account__connection=synced).order_by("-posted_date").first()
    checks = {
        "status__exact": ("pending", lambda t: t.status == "pending"),
        "is_removed__exact": ("0", lambda t: not t.is_removed),
        "account": (str(txn.account_id), lambda t: t.account_id == txn.account_id),
        "posted_date__year": (str(txn.posted_date.year), lambda t: t.posted_date.year == txn.posted_date.year),
    }
    for param, (value, holds) in checks.items():
        response = operator_client.get(url, {param: value})
        assert response.status_code == 200, param
        rows = list(response.context["cl"].queryset)
        assert rows and all(holds(t) for t in rows), param
    month = {"posted_date__year": txn.posted_date.year, "posted_date__month": txn.posted_date.month}
    assert operator_client.get(url, month).status_code == 200
    response = operator_client.get(url, {"q": txn.payee})
    assert txn in response.context["cl"].queryset
    listing = operator_client.get(url)
    assert listing.context["cl"].date_hierarchy == "posted_date"
    assert "posted_date__month=" in listing.content.decode()  # the hierarchy links to months


def test_holdings_are_read_only_with_filters(operator_client, superuser_client, synced):
    holding = Holding.objects.filter(account__connection=synced).first()
    for client in (operator_client, superuser_client):
        page = client.get(change_url("holding", holding.pk))
        assert page.status_code == 200 and "View holding" in page.content.decode()
        assert client.get(_add_url("holding")).status_code == 403
        assert client.post(_delete_url("holding", holding.pk), {"post": "yes"}).status_code == 403
    response = operator_client.get(changelist_url("holding"), {"is_active__exact": "1", "q": holding.symbol})
    assert holding in response.context["cl"].queryset
    assert operator_client.get(changelist_url("holding"), {"account": str(holding.account_id)}).status_code == 200


@pytest.mark.parametrize("model", ["syncrun", "auditevent"])
def test_runs_and_events_are_read_only_for_everyone(superuser_client, synced, model):
    obj = (SyncRun if model == "syncrun" else AuditEvent).objects.first()
    page = superuser_client.get(change_url(model, obj.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert superuser_client.get(_add_url(model)).status_code == 403
    assert superuser_client.post(change_url(model, obj.pk), {"status": "failed"}).status_code == 403
    assert superuser_client.post(_delete_url(model, obj.pk), {"post": "yes"}).status_code == 403
    listing = superuser_client.get(changelist_url(model))
    assert listing.context["action_form"] is None  # not even "delete selected"


def test_sync_run_filters(operator_client, synced):
    url = changelist_url("syncrun")
    for params, holds in (
        ({"kind__exact": "holdings"}, lambda r: r.kind == "holdings"),
        ({"status__exact": "succeeded"}, lambda r: r.status == "succeeded"),
        ({"source__exact": "cli"}, lambda r: r.source == "cli"),
        ({"connection": str(synced.pk)}, lambda r: r.connection_id == synced.pk),
    ):
        rows = list(operator_client.get(url, params).context["cl"].queryset)
        assert rows and all(holds(r) for r in rows), params
    assert list(operator_client.get(url, {"source__exact": "api"}).context["cl"].queryset) == []
    run = SyncRun.objects.first()
    day = {"started_at__year": run.started_at.year, "started_at__month": run.started_at.month}
    assert run in operator_client.get(url, day).context["cl"].queryset
    page = operator_client.get(change_url("syncrun", run.pk)).content.decode()
    assert f"{changelist_url('auditevent')}?sync_run={run.pk}" in page


def test_audit_event_filters_and_links(operator_client, synced):
    url = changelist_url("auditevent")
    for params, holds in (
        ({"kind": "sync.holdings."}, lambda e: e.event.startswith("sync.holdings.")),
        ({"kind": "connection."}, lambda e: e.event == "connection.created"),
        ({"outcome": "succeeded"}, lambda e: e.event.endswith(".succeeded")),
        ({"source__exact": "cli"}, lambda e: e.source == "cli"),
    ):
        response = operator_client.get(url, params)
        rows = list(response.context["cl"].queryset)
        assert rows and all(holds(e) for e in rows), params
    event = AuditEvent.objects.filter(event="sync.accounts.succeeded").first()
    page = operator_client.get(change_url("auditevent", event.pk)).content.decode()
    assert change_url("connection", synced.pk) in page and change_url("syncrun", event.sync_run_id) in page
    assert "&quot;created&quot;: 3" in page  # the payload, pretty-printed


def test_audit_event_of_a_deleted_connection_still_shows(operator_client, synced):
    AuditEvent.objects.create(event="sync.accounts.attempted", connection_id=uuid.uuid4(), actor_label="cron")
    gone = AuditEvent.objects.get(actor_label="cron")
    assert operator_client.get(changelist_url("auditevent")).status_code == 200
    page = operator_client.get(change_url("auditevent", gone.pk)).content.decode()
    assert str(gone.connection_id) in page


def test_pages_need_view_permission(viewer_client, client, synced):
    account = Account.objects.filter(connection=synced).first()
    assert viewer_client.get(change_url("account", account.pk)).status_code == 200
    response = client.get(changelist_url("syncrun"))
    assert response.status_code == 302 and "/login/" in response["Location"]
