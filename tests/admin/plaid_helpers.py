"""The loopback Plaid fake for the admin's Plaid Link tests (the fixture itself lives in tests/admin/conftest.py)."""

from __future__ import annotations

from django.urls import reverse

from sync.models import Connection
from sync.services.connections import create_connection
from tests.providers.conftest import PLAID_TOKEN

ADD_URL = reverse("admin:sync_connection_add") + "?provider=plaid"
CONNECT_URL = reverse("admin:sync_connection_plaid_connect")
LINK_TOKEN_URL = reverse("admin:sync_connection_plaid_link_token")
LINK_SCRIPT = "https://cdn.plaid.com/link/v2/stable/link-initialize.js"


def reconnect_url(pk) -> str:
    return reverse("admin:sync_connection_reconnect", args=[pk])


def plaid_connection_needing_reauth(owner, fake, *, name: str = "Owner's Plaid") -> Connection:
    """A Plaid connection of `owner` with the fake Item's access token, marked as needing re-authentication."""
    connection = create_connection(
        owner=owner, provider="plaid", name=name, options={"access_token": PLAID_TOKEN}, actor=owner, source="cli"
    )
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.NEEDS_REAUTH)
    connection.refresh_from_db()
    return connection
