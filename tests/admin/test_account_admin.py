"""Account admin: list, sync actions and buttons, and the change page's chart, transactions and holdings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sync.models import Account, BalanceSnapshot, Connection, SyncRun
from sync.services.connection_sync import sync_connection
from tests.admin.helpers import change_url, changelist_url, messages_of, run_action, sync_url

pytestmark = pytest.mark.django_db

SKIP = "synced less than a minute ago (use force to sync again)"


@pytest.fixture
def synced(live_connection, user):
    """Alice's connection after a CLI sync of everything."""
    outcomes = sync_connection(connection_id=live_connection.pk, user_id=user.pk, source="cli")
    assert not any(outcome.failed for outcome in outcomes)
    return live_connection


@pytest.fixture
def brokerage(synced):
    return Account.objects.get(connection=synced, type="investment")


@pytest.fixture
def checking(synced):
    return Account.objects.get(connection=synced, subtype="checking")


def test_changelist_shows_balance_currency_type_active_and_last_sync(operator_client, brokerage):
    response = operator_client.get(changelist_url("account"))
    content = response.content.decode()
    for heading in ("Balance", "Type", "Is active", "Transactions synced at", "Holdings synced at", "Owner"):
        assert heading in content
    assert f"{brokerage.balance:,.2f} USD" in content
    response = operator_client.get(changelist_url("account"), {"type": "investment", "is_active__exact": "1"})
    assert list(response.context["cl"].result_list) == [brokerage]
    response = operator_client.get(changelist_url("account"), {"q": "checking"})
    assert [a.subtype for a in response.context["cl"].result_list] == ["checking"]


def test_accounts_are_read_only(operator_client, superuser_client, brokerage):
    for client in (operator_client, superuser_client):
        page = client.get(change_url("account", brokerage.pk))
        assert page.status_code == 200 and "View account" in page.content.decode()
        assert client.get(changelist_url("account").replace("/account/", "/account/add/")).status_code == 403
        delete = change_url("account", brokerage.pk).replace("/change/", "/delete/")
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Account.objects.filter(pk=brokerage.pk).exists()


def test_sync_holdings_and_transactions_actions(operator_client, brokerage, checking):
    target = f"Alice bank · {brokerage}"
    response = run_action(operator_client, "account", "sync_holdings_force", [brokerage.pk])
    assert messages_of(response) == [f"{target}: Synced 5 holdings: 5 unchanged"]
    response = run_action(operator_client, "account", "sync_holdings", [brokerage.pk])
    assert messages_of(response) == [f"{target}: Skipped holdings: {SKIP}"]

    # The connection-wide sync just covered these accounts' transactions too.
    response = run_action(operator_client, "account", "sync_transactions", [checking.pk, brokerage.pk])
    assert messages_of(response) == [
        f"Alice bank · {brokerage}: Skipped transactions: {SKIP}",
        f"Alice bank · {checking}: Skipped transactions: {SKIP}",
    ]
    response = run_action(operator_client, "account", "sync_transactions_force", [checking.pk, brokerage.pk])
    shown = messages_of(response)
    # In name order, one handler call per account, each for that account alone.
    assert [m.split(": ")[0] for m in shown] == [f"Alice bank · {brokerage}", f"Alice bank · {checking}"]
    assert all(re.search(r": Synced \d+ transactions?: \d+ unchanged$", m) for m in shown), shown
    runs = SyncRun.objects.filter(source="admin", kind="transactions", status="succeeded")
    assert {run.account_id for run in runs} == {checking.pk, brokerage.pk}


def test_account_sync_buttons(operator_client, brokerage):
    url = sync_url("account", brokerage.pk)
    response = operator_client.post(url, {"kind": "holdings", "force": "1"}, follow=True)
    assert response.redirect_chain == [(change_url("account", brokerage.pk), 302)]
    assert messages_of(response) == [f"Alice bank · {brokerage}: Synced 5 holdings: 5 unchanged"]
    response = operator_client.post(url, {"kind": "transactions", "force": "1"}, follow=True)
    assert re.fullmatch(r".*: Synced \d+ transactions: \d+ unchanged", messages_of(response)[0])
    assert operator_client.post(url, {"kind": "accounts"}).status_code == 400  # not an account-level sync
    assert operator_client.get(url).status_code == 405


def test_account_sync_errors_are_reported(operator_client, brokerage):
    Connection.objects.filter(pk=brokerage.connection_id).update(status=Connection.Status.NEEDS_REAUTH)
    response = operator_client.post(sync_url("account", brokerage.pk), {"kind": "holdings"}, follow=True)
    assert messages_of(response) == [
        f"Alice bank · {brokerage}: Holdings sync failed: Needs re-authentication "
        "(the connection needs re-authentication with the provider)"
    ]


def test_account_sync_controls_need_the_permission(viewer_client, brokerage):
    page = viewer_client.get(change_url("account", brokerage.pk)).content.decode()
    assert "Sync holdings" not in page and "sync-panel" not in page
    assert viewer_client.post(sync_url("account", brokerage.pk), {"kind": "holdings"}).status_code == 403
    response = viewer_client.post(
        changelist_url("account"), {"action": "sync_holdings", "_selected_action": [str(brokerage.pk)], "index": 0}
    )
    assert response.status_code == 403
    assert not SyncRun.objects.filter(source="admin").exists()


def test_change_page_shows_balance_chart_transactions_and_holdings(operator_client, brokerage):
    start = datetime(2026, 1, 1, 23, tzinfo=UTC)
    for day in range(5):
        BalanceSnapshot.objects.create(
            account=brokerage, balance=Decimal(1000 + 250 * day), as_of=start + timedelta(days=day), source="accounts"
        )
    response = operator_client.get(change_url("account", brokerage.pk) + "?range=all")
    content = response.content.decode()
    assert "Sync transactions" in content and "Sync holdings" in content
    assert '<svg class="balance-chart' in content and "<polyline" in content
    # A market-value account: the snapshots, each carried forward to the next, one point a day
    # from the first snapshot to today's sync.
    days = response.context["balance_days"]
    assert days == (brokerage.balance_date.date() - start.date()).days + 1
    assert content.count("<circle") == days
    assert "2026-01-01: 1,000.00 USD" in content  # a point's tooltip
    assert "2026-01-06: 2,000.00 USD" in content  # the last snapshot, carried
    assert "6 of them recorded by a sync" in content
    assert 'href="?range=all" class="selected"' in content
    week = operator_client.get(change_url("account", brokerage.pk) + "?range=30d").content.decode()
    assert week.count("<circle") == 30 and "2026-01-01:" not in week
    recent = response.context["recent_transactions"]
    assert 0 < len(recent) <= 20
    assert all(t.account_id == brokerage.pk for t in recent)
    assert recent[0].description in content
    assert [h.symbol for h in response.context["holdings"]] == ["AAPL", "BND", "CUR:USD", "MSFT", "VTI"]
    assert f"{changelist_url('transaction')}?account={brokerage.pk}" in content
    transactions = operator_client.get(f"{changelist_url('transaction')}?account={brokerage.pk}")
    assert {t.account_id for t in transactions.context["cl"].result_list} == {brokerage.pk}


def test_change_page_without_history(operator_client, live_connection, user):
    sync_connection(connection_id=live_connection.pk, user_id=user.pk, kinds=("accounts",), source="cli")
    account = Account.objects.filter(connection=live_connection).first()
    BalanceSnapshot.objects.filter(account=account).delete()
    content = operator_client.get(change_url("account", account.pk)).content.decode()
    assert "No balance history yet" in content and "No transactions yet." in content and "No holdings." in content


def test_a_skip_is_a_warning_with_its_own_style(operator_client, brokerage):
    response = operator_client.post(sync_url("account", brokerage.pk), {"kind": "holdings"}, follow=True)
    [message] = list(response.context["messages"])
    assert message.level_tag == "warning" and "skipped" in message.tags
    assert str(message) == f"Alice bank · {brokerage}: Skipped holdings: {SKIP}"
    assert 'class="skipped warning"' in response.content.decode()


def test_holdings_sync_is_not_offered_for_accounts_without_holdings(operator_client, checking):
    content = operator_client.get(change_url("account", checking.pk)).content.decode()
    assert "Sync transactions" in content
    assert 'value="holdings"' not in content
    assert "No holdings sync: a depository account has none" in content
    response = run_action(operator_client, "account", "sync_holdings", [checking.pk])
    assert messages_of(response) == [
        f"Alice bank · {checking}: no holdings to sync: a depository account has none (only investment accounts do)"
    ]
    assert not SyncRun.objects.filter(source="admin", kind="holdings").exists()
