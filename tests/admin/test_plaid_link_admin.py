"""The admin's Plaid Link pages without a browser: the page, the link-token endpoint, the exchange and
reconnect POST views, against the loopback Plaid fake (the browser side: test_browser_plaid.py)."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from sync.models import AuditEvent, Connection
from tests.admin.helpers import change_url, messages_of
from tests.admin.plaid_helpers import (
    ADD_URL,
    CONNECT_URL,
    LINK_SCRIPT,
    LINK_TOKEN_URL,
    plaid_connection_needing_reauth,
    reconnect_url,
)
from tests.factories import UserFactory
from tests.providers.conftest import PLAID_TOKEN

PUBLIC_TOKEN = "public-sandbox-admin-0001"


def _exchanges(fake) -> int:
    return sum(1 for r in fake.requests if r.path == "/item/public_token/exchange")


def test_the_choosers_plaid_entry_opens_the_link_page_when_plaid_is_configured(operator_client, plaid, settings):
    page = operator_client.get(ADD_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Add a Plaid connection" in html and f'<script src="{LINK_SCRIPT}">' in html
    assert f'data-link-token-url="{LINK_TOKEN_URL}"' in html and f'action="{CONNECT_URL}"' in html
    # Without FinSync's Plaid keys there is no Link to open: the plain form (an operator's access token) stays.
    settings.PLAID_SECRET = ""
    plain = operator_client.get(ADD_URL).content.decode()
    assert LINK_SCRIPT not in plain and "connect_access_token" in plain


def test_the_link_token_endpoint_answers_json_for_a_new_item(operator_client, plaid):
    answer = operator_client.post(LINK_TOKEN_URL, {"investments": "1"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["link_token"].startswith("link-sandbox-") and answer.json()["expiration"]
    assert plaid.link_tokens[-1]["products"] == ["transactions", "investments"]
    assert "access_token" not in plaid.link_tokens[-1]
    assert operator_client.post(LINK_TOKEN_URL).status_code == 200
    assert plaid.link_tokens[-1]["products"] == ["transactions"]
    assert operator_client.get(LINK_TOKEN_URL).status_code == 405


def test_plaid_refusing_a_link_token_is_a_json_error_not_a_500(operator_client, plaid):
    from tests.fakes.plaid import plaid_error

    plaid.fail_next(plaid_error("INVALID_INPUT", "INVALID_API_KEYS", "invalid client_id or secret provided"))
    answer = operator_client.post(LINK_TOKEN_URL)
    assert answer.status_code == 400
    assert answer.json()["code"] and "link_token" not in answer.json()
    assert plaid.secret not in answer.content.decode()


def test_a_public_token_becomes_the_users_connection_and_lands_on_its_page(operator_client, operator, plaid):
    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])
    response = operator_client.post(CONNECT_URL, {"name": "My bank via Plaid", "public_token": PUBLIC_TOKEN})
    connection = Connection.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url("connection", connection.pk)
    assert (connection.owner, connection.provider, connection.name) == (operator, "plaid", "My bank via Plaid")
    assert connection.config["item_id"] == "item-1" and PUBLIC_TOKEN not in connection.credentials_encrypted
    created = AuditEvent.objects.get(event="connection.created")
    assert created.source == "admin" and created.actor_id == operator.pk
    landed = operator_client.get(response["Location"])
    assert any("My bank via Plaid" in m and "connected" in m for m in messages_of(landed))


def test_a_refused_public_token_is_a_message_and_stores_nothing(operator_client, plaid):
    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])
    assert operator_client.post(CONNECT_URL, {"public_token": PUBLIC_TOKEN}).status_code == 302
    again = operator_client.post(CONNECT_URL, {"name": "Twice", "public_token": PUBLIC_TOKEN}, follow=True)
    assert again.status_code == 200 and again.redirect_chain[-1][0] == ADD_URL
    message = messages_of(again)[-1]  # after the first one's "connected"
    assert message.startswith("Plaid: not connected (validation_error): Plaid refused the public token")
    assert PUBLIC_TOKEN not in message
    empty = operator_client.post(CONNECT_URL, {"name": "Nothing", "public_token": "  "}, follow=True)
    assert messages_of(empty) == ["Plaid Link gave no public token: nothing was connected"]
    assert Connection.objects.count() == 1
    assert AuditEvent.objects.filter(event="connection.connect_failed").count() == 1
    assert operator_client.get(CONNECT_URL).status_code == 405


def test_the_plaid_views_need_csrf(operator, plaid):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])
    assert client.post(CONNECT_URL, {"public_token": PUBLIC_TOKEN}).status_code == 403
    assert client.post(LINK_TOKEN_URL).status_code == 403
    connection = plaid_connection_needing_reauth(operator, plaid)
    assert (
        client.post(reconnect_url(connection.pk), {"submitted": "1", "public_token": PUBLIC_TOKEN}).status_code == 403
    )
    assert _exchanges(plaid) == 0 and plaid.link_tokens == []
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.NEEDS_REAUTH


def test_staff_who_may_not_add_connections_get_no_link(plaid, db):
    staff = UserFactory(username="looker", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_connection", content_type__app_label="sync"))
    client = Client()
    client.force_login(staff)
    plaid.add_public_token(PUBLIC_TOKEN, plaid.items[PLAID_TOKEN])
    assert client.get(ADD_URL).status_code == 403
    assert client.post(LINK_TOKEN_URL).status_code == 403
    assert client.post(CONNECT_URL, {"public_token": PUBLIC_TOKEN}).status_code == 403
    assert _exchanges(plaid) == 0 and not Connection.objects.exists()


def test_reconnect_opens_link_in_update_mode_and_reactivates_the_connection(operator_client, operator, plaid):
    connection = plaid_connection_needing_reauth(operator, plaid)
    page = operator_client.get(change_url("connection", connection.pk)).content.decode()
    assert 'id="reconnect-panel"' in page and f'data-connection-id="{connection.pk}"' in page and LINK_SCRIPT in page

    token = operator_client.post(LINK_TOKEN_URL, {"connection_id": str(connection.pk)})
    assert token.status_code == 200, token.content
    assert plaid.link_tokens[-1]["access_token"] == PLAID_TOKEN and PLAID_TOKEN not in token.content.decode()

    plaid.add_public_token("public-update-1", plaid.items[PLAID_TOKEN])
    done = operator_client.post(reconnect_url(connection.pk), {"submitted": "1", "public_token": "public-update-1"})
    assert done.status_code == 302 and done["Location"] == change_url("connection", connection.pk)
    assert messages_of(operator_client.get(done["Location"])) == ["Owner's Plaid (plaid): reconnected"]
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.ACTIVE
    assert AuditEvent.objects.filter(connection_id=connection.pk, event="connection.reconnected").count() == 1
    # Active again: no reconnect panel, and no script from outside on the page.
    again = operator_client.get(change_url("connection", connection.pk)).content.decode()
    assert 'id="reconnect-panel"' not in again and LINK_SCRIPT not in again


def test_a_bad_public_token_on_reconnect_is_a_message_and_changes_nothing(operator_client, operator, plaid):
    connection = plaid_connection_needing_reauth(operator, plaid)
    response = operator_client.post(
        reconnect_url(connection.pk), {"submitted": "1", "public_token": "public-unknown"}, follow=True
    )
    [message] = messages_of(response)
    assert message.startswith(
        "Owner's Plaid (plaid): could not reconnect (validation_error): Plaid refused the public token"
    )
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.NEEDS_REAUTH
    assert not AuditEvent.objects.filter(event="connection.reconnected").exists()


def test_another_users_plaid_connection_gets_no_link_and_no_reconnect(operator_client, user, plaid):
    connection = plaid_connection_needing_reauth(user, plaid, name="Alice's Plaid")
    page = operator_client.get(change_url("connection", connection.pk)).content.decode()
    assert 'id="reconnect-panel"' not in page and LINK_SCRIPT not in page
    token = operator_client.post(LINK_TOKEN_URL, {"connection_id": str(connection.pk)})
    assert token.status_code == 404 and token.json()["code"] == "not_found"
    assert operator_client.post(LINK_TOKEN_URL, {"connection_id": "not-a-uuid"}).status_code == 404
    assert plaid.link_tokens == []
    plaid.add_public_token("public-update-1", plaid.items[PLAID_TOKEN])
    refused = operator_client.post(reconnect_url(connection.pk), {"submitted": "1", "public_token": "public-update-1"})
    assert refused.status_code == 403
    assert _exchanges(plaid) == 0
    assert Connection.objects.get(pk=connection.pk).status == Connection.Status.NEEDS_REAUTH
