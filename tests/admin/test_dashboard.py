"""The admin index's dashboard: net worth, the last syncs, the connections needing attention."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from sync.models import Connection
from sync.services.connection_sync import sync_connection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_dashboard_shows_net_worth_recent_syncs_and_attention(operator_client, operator, user):
    own = ConnectionFactory(owner=operator, name="Operator bank", config={})
    sync_connection(connection_id=own.pk, user_id=operator.pk, source="cli")
    ConnectionFactory(owner=user, name="Never synced bank", config={})
    reauth = ConnectionFactory(owner=user, name="Expired bank", config={})
    Connection.objects.filter(pk=reauth.pk).update(status=Connection.Status.NEEDS_REAUTH)
    failed = ConnectionFactory(owner=user, name="Broken bank", config={})
    Connection.objects.filter(pk=failed.pk).update(
        accounts_synced_at=timezone.now(), last_error_code="provider_unavailable", last_error_at=timezone.now()
    )
    fine = ConnectionFactory(owner=user, name="Fine bank", config={})
    Connection.objects.filter(pk=fine.pk).update(accounts_synced_at=timezone.now())

    response = operator_client.get("/admin/")
    content = response.content.decode()
    assert 'id="dashboard"' in content
    [usd] = response.context["net_worth"]
    assert usd["currency"] == "USD" and usd["accounts"] == 3  # the operator's own accounts only
    assert '<svg class="balance-chart' in content and "across 3 active accounts" in content
    names = [c.name for c in response.context["attention"]]
    assert set(names) == {"Never synced bank", "Expired bank", "Broken bank"}
    assert "Last sync failed (provider_unavailable)" in content and "Re-authenticate" in content
    runs = response.context["recent_runs"]
    assert [r.kind for r in runs] == ["holdings", "transactions", "accounts"]
    assert 'class="run-status run-status-succeeded"' in content
    assert 'href="/api/"' in content  # "View site": the API root, not Django's 404 page
    assert operator_client.get("/admin/?range=30d").context["net_worth"][0]["chart"].count("<circle") == 30


def test_dashboard_without_view_permissions_shows_only_the_own_net_worth(db):
    from tests.factories import UserFactory

    staff = UserFactory(username="bare", is_staff=True)
    client = Client()
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "attention" not in response.context and "recent_runs" not in response.context
    assert "No balances yet" in response.content.decode()
