"""Admin fixtures: staff with and without the sync permission, logged-in clients, a live demo connection."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.factories import ConnectionFactory, UserFactory

SYNC_MODELS = ("connection", "account", "transaction", "holding", "syncrun", "auditevent")


def _grant(user, *codenames: str) -> None:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sync", codename__in=codenames))


@pytest.fixture
def viewer(db):
    """Staff who may look at everything (and edit transactions) but hold no `sync.sync_connection`."""
    staff = UserFactory(username="viewer", is_staff=True)
    _grant(staff, *(f"view_{model}" for model in SYNC_MODELS), "change_transaction", "add_connection")
    return staff


@pytest.fixture
def operator(db):
    """Staff with the viewer's permissions plus `sync.sync_connection`."""
    staff = UserFactory(username="operator", is_staff=True)
    _grant(staff, *(f"view_{model}" for model in SYNC_MODELS), "change_transaction", "add_connection")
    _grant(staff, "change_connection", "sync_connection")
    return staff


@pytest.fixture
def operator_client(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(viewer) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def live_connection(user):
    """Alice's demo connection on today's calendar: the admin syncs the default window ending today."""
    return ConnectionFactory(owner=user, name="Alice bank", config={})


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def plaid(settings):
    """The loopback Plaid fake with one Item (as in tests/providers), FinSync's Plaid settings aimed at it."""
    from tests.fakes.plaid import PlaidFake
    from tests.fakes.server import LiveServer
    from tests.providers.conftest import build_plaid_item

    fake = PlaidFake()
    build_plaid_item(fake)
    with LiveServer(fake) as server:
        settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
        settings.FINSYNC_HTTP_CONNECT_TIMEOUT = 2.0
        settings.FINSYNC_HTTP_READ_TIMEOUT = 5.0
        settings.FINSYNC_HTTP_MAX_RETRIES = 2
        settings.FINSYNC_HTTP_BACKOFF_SECONDS = 0.01
        settings.PLAID_BASE_URL = server.url
        settings.PLAID_CLIENT_ID = fake.client_id
        settings.PLAID_SECRET = fake.secret
        yield fake
