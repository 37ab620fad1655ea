"""Creating a connection in the admin: provider first, then its connect fields, through create_connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from providers.base import ConnectionSetup, CredentialField, Provider
from providers.errors import ProviderCredentialsInvalid
from sync.crypto import decrypt_credentials
from sync.models import AuditEvent, Connection
from tests.admin.helpers import change_url, changelist_url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/sync/connection/add/"
SECRET = "sekrit-key-1234567890"
# The API key the Vault bank refuses: not a word of its message, which would be scrubbed as the secret it is.
REFUSED = "refused-key-0000"


class VaultProvider(Provider):
    """A provider with a secret connect field, like SimpleFIN's setup token or Plaid's access token."""

    slug = "vault"
    display_name = "Vault bank"
    connect_fields = (
        CredentialField(name="api_key", help="The bank's API key"),
        CredentialField(name="region", help="Data region", secret=False, required=False),
    )

    @classmethod
    def connect(cls, options: Mapping[str, Any]) -> ConnectionSetup:
        if options["api_key"] == REFUSED:
            raise ProviderCredentialsInvalid("the bank refused the API key")
        if options["api_key"].startswith("echo"):  # a bank that echoes what it was sent
            raise ProviderCredentialsInvalid(f"the bank refused {options['api_key'].upper()}")
        return ConnectionSetup(credentials={"api_key": options["api_key"]}, config={"region": options.get("region")})


@pytest.fixture
def vault(register_provider):
    return register_provider(VaultProvider)


def test_add_starts_by_choosing_a_provider(operator_client, vault):
    response = operator_client.get(ADD_URL)
    content = response.content.decode()
    assert response.status_code == 200
    assert '?provider=demo"' in content and "Demo bank (synthetic data)" in content
    assert '?provider=vault"' in content and "Vault bank" in content


def test_add_form_has_the_providers_connect_fields(operator_client, vault):
    form = operator_client.get(ADD_URL, {"provider": "vault"}).context["adminform"].form
    assert list(form.fields) == ["owner", "name", "provider", "connect_api_key", "connect_region"]
    assert form.fields["connect_api_key"].widget.input_type == "password"
    assert form.fields["connect_api_key"].required and not form.fields["connect_region"].required
    demo = operator_client.get(ADD_URL, {"provider": "demo"}).context["adminform"].form
    assert [name for name in demo.fields if name.startswith("connect_")] == [
        "connect_seed",
        "connect_accounts",
        "connect_transactions_per_account",
        "connect_history_days",
    ]
    assert not any(demo.fields[name].required for name in demo.fields if name.startswith("connect_"))


def test_add_creates_the_connection_through_the_service(operator_client, operator, user, vault):
    response = operator_client.post(
        f"{ADD_URL}?provider=vault",
        {"owner": user.pk, "name": "Alice at Vault", "provider": "vault", "connect_api_key": SECRET},
    )
    assert response.status_code == 302
    connection = Connection.objects.get(name="Alice at Vault")
    assert (connection.owner, connection.provider, connection.config) == (user, "vault", {"region": None})
    assert decrypt_credentials(connection.credentials_encrypted) == {"api_key": SECRET}
    event = AuditEvent.objects.get(event="connection.created", connection_id=connection.pk)
    assert (event.actor, event.source) == (operator, "admin")

    for url in (change_url("connection", connection.pk), changelist_url("connection")):
        page = operator_client.get(url).content.decode()
        assert SECRET not in page and connection.credentials_encrypted not in page
        assert "credentials" not in page.lower()


def test_add_with_refused_credentials_shows_the_error_and_not_the_secret(operator_client, user, vault):
    response = operator_client.post(
        f"{ADD_URL}?provider=vault", {"owner": user.pk, "provider": "vault", "connect_api_key": REFUSED}
    )
    assert response.status_code == 200
    assert "the bank refused the API key" in response.content.decode()
    assert REFUSED not in response.content.decode()  # a secret input is never rendered back
    response = operator_client.post(f"{ADD_URL}?provider=vault", {"owner": user.pk, "provider": "vault"})
    assert response.context["adminform"].form.errors["connect_api_key"] == ["This field is required."]
    assert not Connection.objects.exists()


def test_add_a_demo_connection_with_defaults_and_options(operator_client, user):
    response = operator_client.post(
        f"{ADD_URL}?provider=demo", {"owner": user.pk, "name": "", "provider": "demo", "connect_seed": "7"}
    )
    assert response.status_code == 302
    connection = Connection.objects.get(owner=user)
    assert connection.name == "Demo bank (synthetic data)"
    assert connection.config["seed"] == 7 and connection.config["accounts"] == 3

    response = operator_client.post(
        f"{ADD_URL}?provider=demo", {"owner": user.pk, "provider": "demo", "connect_accounts": "lots"}
    )
    assert response.status_code == 200
    assert "accounts must be a whole number" in response.content.decode()
    assert Connection.objects.count() == 1


def test_add_needs_the_add_permission(db):
    staff = UserFactory(username="looker", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_connection"))
    client = Client()
    client.force_login(staff)
    assert client.get(ADD_URL).status_code == 403
    assert client.get(ADD_URL, {"provider": "demo"}).status_code == 403


def test_add_with_a_refusal_echoing_the_secret_shows_it_scrubbed(operator_client, user, vault):
    key = "echo-key-5f2e9a"
    response = operator_client.post(
        f"{ADD_URL}?provider=vault", {"owner": user.pk, "provider": "vault", "connect_api_key": key}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "the bank refused [redacted]" in content
    assert key.casefold() not in content.casefold()
    assert not Connection.objects.exists()
