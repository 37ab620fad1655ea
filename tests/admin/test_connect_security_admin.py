"""The admin add form under the connect rules: private provider hosts, bad input, demo bounds, no secret shown."""

from __future__ import annotations

import pytest

from sync.models import AuditEvent, Connection
from tests.api.test_connect_security import HOSTS, PASSWORD, access_url, listener, restricted, setup_token  # noqa: F401

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/sync/connection/add/"


def post(client, provider: str, user, **fields):
    data = {"owner": user.pk, "name": "", "provider": provider}
    data.update({f"connect_{name}": value for name, value in fields.items()})
    return client.post(f"{ADD_URL}?provider={provider}", data)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("field", ["access_url", "setup_token"])
def test_add_form_refuses_private_hosts_under_the_field(operator_client, user, restricted, listener, host, field):  # noqa: F811
    value = access_url(host, listener.port) if field == "access_url" else setup_token(host, listener.port)
    response = post(operator_client, "simplefin", user, **{field: value})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "private address" in errors[f"connect_{field}"][0]
    assert PASSWORD not in response.content.decode()
    assert listener.accepted() == 0
    assert not Connection.objects.exists()
    assert AuditEvent.objects.get(event="connection.connect_failed").source == "admin"


@pytest.mark.parametrize(
    "url",
    [
        f"https://u:{PASSWORD}@bank.example:99999/x",
        f"https://u:{PASSWORD}@bank.example:abc/x",
        f"http://u:{PASSWORD}@[::1",
        f"https://u:{PASSWORD}@bank.example/" + "x" * 3000,
    ],
)
def test_add_form_bad_access_url_is_a_field_error_without_the_secret(operator_client, user, settings, url):
    settings.DEBUG = True
    response = post(operator_client, "simplefin", user, access_url=url)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["connect_access_url"]
    assert PASSWORD not in response.content.decode()
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"accounts": "11"}, "connect_accounts"),
        ({"accounts": "10", "transactions_per_account": "2001"}, "connect_transactions_per_account"),
    ],
)
def test_add_form_bounds_demo_connections(operator_client, user, fields, error_field):
    response = post(operator_client, "demo", user, **fields)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[error_field]
    assert not Connection.objects.exists()
    assert post(operator_client, "demo", user, accounts="10", transactions_per_account="2000").status_code == 302


def test_add_view_hides_the_secret_post_parameters_from_error_reports(operator_client, user):
    from django.views.debug import SafeExceptionReporterFilter

    response = post(operator_client, "simplefin", user, access_url=f"https://u:{PASSWORD}@bank.example:99999/x")
    request = response.wsgi_request
    assert {"connect_access_url", "connect_setup_token", "connect_access_token"} <= set(
        request.sensitive_post_parameters
    )
    shown = SafeExceptionReporterFilter().get_post_parameters(request)
    assert PASSWORD not in str(dict(shown))
