"""Least privilege in the admin: syncing needs `sync.sync_connection` and the view permission."""

from __future__ import annotations

import pytest
from django.test import Client

from sync.batch import sync_connection
from sync.models import Account, SyncRun
from tests.admin.conftest import _grant
from tests.admin.helpers import change_url, changelist_url, messages_of, sync_url
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
