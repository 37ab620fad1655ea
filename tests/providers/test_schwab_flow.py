"""The Schwab OAuth flow as users meet it (API, callback, CLI, admin), state refusals, reconnect, secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sync import errors
from sync.commands import SyncAccounts, SyncTransactions
from sync.crypto import decrypt_credentials
from sync.models import Account, AuditEvent, Connection, OAuthState, Transaction
from sync.services import oauth
from sync.services.connections import reconnect_connection
from sync.services.handlers import sync_accounts, sync_transactions
from tests.factories import UserFactory
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake
from tests.providers.helpers import assert_no_secrets
from tests.providers.schwab_helpers import NUMBER, OTHER_NUMBER, follow_authorize, local_path

MAY = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}


@pytest.fixture(autouse=True)
def _roomy_throttle(settings, db):
    settings.FINSYNC_CONNECT_THROTTLE_RATE = "1000/minute"
    cache.clear()
    yield
    cache.clear()


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _sync_all(connection, user):
    sync_accounts(SyncAccounts(connection_id=connection.pk, user_id=user.pk, force=True), source="cli")
    sync_transactions(SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True, **MAY), source="cli")


def _authorize(client, name="Brokerage") -> dict:
    answer = client.post("/api/connections/authorize/", {"provider": "schwab", "name": name}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()


# --- the flow ------------------------------------------------------------------------------


def test_the_whole_flow_through_the_api(user, schwab_server, schwab_fake):
    client = _client(user)
    start = _authorize(client)
    assert start["authorize_url"].startswith(f"{schwab_server.url}/v1/oauth/authorize?client_id=fake-app-key-1234")
    assert parse_qs(urlsplit(start["authorize_url"]).query)["state"] == [start["state"]]
    landed = follow_authorize(start["authorize_url"])
    assert "%40" in landed  # Schwab's code ends in @, URL-encoded
    # The callback identifies the user by the state alone: this client has no session or token.
    answer = Client().get(local_path(landed), HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    connection = Connection.objects.get(pk=answer.json()["id"])
    assert (connection.owner, connection.provider, connection.name, connection.status) == (
        user,
        "schwab",
        "Brokerage",
        "active",
    )
    # The exchange: Basic app key:secret, the decoded code, the registered redirect_uri.
    exchange = schwab_fake.token_requests("authorization_code")[0]
    form = parse_qs(exchange.body.decode())
    assert form["code"][0].endswith("@") and form["redirect_uri"] == [schwab_fake.redirect_uri]
    shown = client.get(f"/api/connections/{connection.pk}/").json()
    due = datetime.fromisoformat(shown["reauth_due_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < due - datetime.now(UTC) <= timedelta(days=7)
    assert shown["reauth_warning"] is False
    _sync_all(connection, user)
    assert Account.objects.filter(connection=connection).count() == 2
    assert Transaction.objects.count() == 3
    assert AuditEvent.objects.filter(event="connection.created", connection_id=connection.pk).exists()

    # The same link again: refused, nothing stored, audited.
    again = Client().get(local_path(landed), HTTP_ACCEPT="application/json")
    assert (again.status_code, again.json()["code"]) == (400, "oauth_state_invalid")
    assert "used already" in again.json()["message"]
    assert Connection.objects.count() == 1
    refused = AuditEvent.objects.filter(event="connection.connect_failed").last()
    assert refused.payload["code"] == "oauth_state_invalid"


def test_a_browser_lands_on_the_connection_admin_page(user, schwab_server):
    start = oauth.start_authorization(user=user, provider="schwab", name="", source="admin")
    answer = Client().get(local_path(follow_authorize(start.authorize_url)))
    connection = Connection.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == f"/admin/sync/connection/{connection.pk}/change/"
    assert connection.name == "Charles Schwab"


def test_expired_unknown_and_other_users_states_are_refused(user, other_user, schwab_server, schwab_fake):
    # Expired.
    start = oauth.start_authorization(user=user, provider="schwab", source="api")
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = Client().get(local_path(follow_authorize(start.authorize_url)), HTTP_ACCEPT="application/json")
    assert (answer.status_code, answer.json()["code"]) == (400, "oauth_state_invalid")
    assert "expired" in answer.json()["message"]
    # Unknown (forged).
    answer = Client().get("/oauth/schwab/callback?code=abc%40&state=forged", HTTP_ACCEPT="application/json")
    assert (answer.status_code, answer.json()["code"]) == (400, "oauth_state_invalid")
    # Another user's, in a browser signed in as bob.
    start = oauth.start_authorization(user=user, provider="schwab", source="api")
    browser = Client()
    browser.force_login(other_user)
    answer = browser.get(local_path(follow_authorize(start.authorize_url)), HTTP_ACCEPT="application/json")
    assert (answer.status_code, answer.json()["code"]) == (400, "oauth_state_invalid")
    assert "another user's" in answer.json()["message"]
    # Nothing was exchanged or stored.
    assert Connection.objects.count() == 0 and schwab_fake.exchanges == 0
    assert AuditEvent.objects.filter(event="connection.connect_failed").count() == 3
    # The refused state was not consumed by bob: alice may still use it.
    landed = follow_authorize(start.authorize_url)  # a new code, same state
    assert Client().get(local_path(landed), HTTP_ACCEPT="application/json").status_code == 200


def test_a_refused_or_stale_code_is_a_clear_error(user, schwab_server):
    start = oauth.start_authorization(user=user, provider="schwab", source="api")
    state = start.state
    answer = Client().get(f"/oauth/schwab/callback?code=stale%40&state={state}", HTTP_ACCEPT="application/json")
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    assert "start the connection again" in answer.json()["message"]
    assert Connection.objects.count() == 0


def test_not_configured_says_which_settings_are_missing(user, settings):
    settings.SCHWAB_CLIENT_ID = "key"
    settings.SCHWAB_CLIENT_SECRET = ""
    settings.SCHWAB_REDIRECT_URI = ""
    answer = _client(user).post("/api/connections/authorize/", {"provider": "schwab"}, format="json")
    assert answer.status_code == 400
    assert "SCHWAB_CLIENT_SECRET, SCHWAB_REDIRECT_URI" in answer.json()["message"]
    answer = _client(user).post("/api/connections/authorize/", {"provider": "demo"}, format="json")
    assert answer.status_code == 400 and "not an OAuth provider" in json.dumps(answer.json())
    assert OAuthState.objects.count() == 0


def test_the_whole_flow_through_the_cli(user, other_user, schwab_server):
    out = io.StringIO()
    call_command("connect", "schwab", "--user", "alice", "--name", "IRA", "--format", "json", stdout=out)
    start = json.loads(out.getvalue())
    assert set(start) == {"authorize_url", "state"}
    landed = follow_authorize(start["authorize_url"])
    # Bob cannot finish alice's login.
    with pytest.raises(CommandError, match="oauth_state_invalid"):
        call_command("connect", "schwab", "--user", "bob", "--redirected-url", landed, stdout=io.StringIO())
    out = io.StringIO()
    call_command("connect", "schwab", "--user", "alice", "--redirected-url", landed, "--format", "json", stdout=out)
    connection = Connection.objects.get(pk=json.loads(out.getvalue())["id"])
    assert (connection.owner, connection.name) == (user, "IRA")
    with pytest.raises(CommandError, match="used already"):
        call_command("connect", "schwab", "--user", "alice", "--redirected-url", landed, stdout=io.StringIO())
    with pytest.raises(CommandError, match="no code and state"):
        call_command("connect", "schwab", "--user", "alice", "--redirected-url", "https://x/cb", stdout=io.StringIO())


# --- reconnect -----------------------------------------------------------------------------


def test_reconnect_schwab_keeps_ids_and_history(user, schwab_connection, schwab_fake):
    _sync_all(schwab_connection, user)
    Transaction.objects.filter(provider_transaction_id="96000000230").update(category="Income", notes="KO")
    accounts = sorted(Account.objects.values_list("pk", "provider_account_id"))
    transactions = sorted(Transaction.objects.values_list("pk", "provider_transaction_id"))
    Connection.objects.filter(pk=schwab_connection.pk).update(status="needs_reauth", last_error_code="reauth_required")
    old = decrypt_credentials(Connection.objects.get().credentials_encrypted)

    client = _client(user)
    answer = client.post(f"/api/connections/{schwab_connection.pk}/reconnect/", {}, format="json")
    assert answer.status_code == 200 and set(answer.json()) == {"authorize_url", "state", "expires_at"}
    callback = Client().get(
        local_path(follow_authorize(answer.json()["authorize_url"])), HTTP_ACCEPT="application/json"
    )
    assert callback.status_code == 200 and callback.json()["id"] == str(schwab_connection.pk)

    connection = Connection.objects.get()
    new = decrypt_credentials(connection.credentials_encrypted)
    assert (connection.status, connection.last_error_code) == ("active", "")
    assert new["refresh_token"] != old["refresh_token"] and new["account_key"] == old["account_key"]
    _sync_all(connection, user)
    assert sorted(Account.objects.values_list("pk", "provider_account_id")) == accounts
    assert sorted(Transaction.objects.values_list("pk", "provider_transaction_id")) == transactions
    assert Transaction.objects.get(provider_transaction_id="96000000230").notes == "KO"
    assert AuditEvent.objects.filter(event="connection.reconnected", connection_id=connection.pk).count() == 1


def test_reconnect_to_another_login_is_refused(user, schwab_connection, schwab_fake):
    _sync_all(schwab_connection, user)
    schwab_fake.add_account("55550000", kind="CASH")
    schwab_fake.login = ["55550000"]  # someone else logs in at Schwab
    start = reconnect_connection(connection_id=schwab_connection.pk, user=user, options={}, source="cli")
    with pytest.raises(CommandError, match="none of the connection's accounts"):
        call_command(
            "connect",
            "schwab",
            "--user",
            "alice",
            "--redirected-url",
            follow_authorize(start.authorize_url),
            stdout=io.StringIO(),
        )
    before = Connection.objects.get()
    assert before.credentials_encrypted == schwab_connection.credentials_encrypted
    assert AuditEvent.objects.filter(event="connection.reconnected").count() == 0
    # The same login, through the CLI's --reconnect: accepted.
    schwab_fake.login = [NUMBER, OTHER_NUMBER]
    out = io.StringIO()
    call_command(
        "connect", "schwab", "--user", "alice", "--reconnect", str(schwab_connection.pk), "--format", "json", stdout=out
    )
    landed = follow_authorize(json.loads(out.getvalue())["authorize_url"])
    out = io.StringIO()
    call_command("connect", "schwab", "--user", "alice", "--redirected-url", landed, "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {"id": str(schwab_connection.pk)}


def test_reconnect_simplefin_keeps_ids_and_history(user, simplefin_fake, simplefin_server, simplefin_connection):
    _sync_all(simplefin_connection, user)
    accounts = sorted(Account.objects.values_list("pk", "provider_account_id"))
    transactions = sorted(Transaction.objects.values_list("pk", "provider_transaction_id"))
    simplefin_fake.password = "a-new-pass-4321"  # the old access URL no longer works
    with pytest.raises(errors.ReauthRequired):
        sync_accounts(SyncAccounts(connection_id=simplefin_connection.pk, user_id=user.pk, force=True), source="cli")
    assert Connection.objects.get().status == "needs_reauth"

    answer = _client(user).post(
        f"/api/connections/{simplefin_connection.pk}/reconnect/",
        {"credentials": {"setup_token": simplefin_fake.setup_token(simplefin_server.url, "second")}},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["id"], answer.json()["status"]) == (str(simplefin_connection.pk), "active")
    _sync_all(Connection.objects.get(), user)
    assert sorted(Account.objects.values_list("pk", "provider_account_id")) == accounts
    assert sorted(Transaction.objects.values_list("pk", "provider_transaction_id")) == transactions

    # Another person's SimpleFIN login: refused, nothing changed.
    other = SimpleFINFake()
    other.add_account("someone-else", "Their checking", balance="1.00")
    with LiveServer(other) as server:
        answer = _client(user).post(
            f"/api/connections/{simplefin_connection.pk}/reconnect/",
            {"credentials": {"setup_token": other.setup_token(server.url)}},
            format="json",
        )
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    assert "none of the connection's accounts" in answer.json()["message"]
    assert AuditEvent.objects.filter(event="connection.reconnected").count() == 1
    # Another user cannot reconnect alice's connection.
    bob = UserFactory(username="carol")
    answer = _client(bob).post(f"/api/connections/{simplefin_connection.pk}/reconnect/", {}, format="json")
    assert answer.status_code == 404


# --- secrets -------------------------------------------------------------------------------


def test_secrets_stay_out_of_the_database_dump_logs_api_and_admin(user, schwab_connection, schwab_fake, caplog):
    caplog.set_level(logging.DEBUG)
    schwab_fake.rotate_refresh = True
    schwab_fake.expire_access_tokens()
    _sync_all(schwab_connection, user)
    schwab_fake.fail_next(path="/trader/v1/accounts", status=400, body=b'{"message": "nope"}')
    with pytest.raises(errors.ProviderUnavailable):
        sync_accounts(SyncAccounts(connection_id=schwab_connection.pk, user_id=user.pk, force=True), source="cli")
    tokens = set(schwab_fake.access_tokens) | set(schwab_fake.refresh_tokens)
    stored = decrypt_credentials(Connection.objects.get().credentials_encrypted)
    secrets = [*tokens, stored["account_key"], schwab_fake.client_secret, NUMBER, OTHER_NUMBER]
    dump = io.StringIO()
    call_command("dumpdata", "sync", "auth", stdout=dump)
    api = _client(user)
    texts = [dump.getvalue()]
    for path in ("/api/connections/", "/api/accounts/", "/api/transactions/", "/api/audit-events/", "/api/sync-runs/"):
        texts.append(api.get(path).content.decode())
    admin = Client()
    user.is_staff = user.is_superuser = True
    user.save()
    admin.force_login(user)
    texts.append(admin.get(f"/admin/sync/connection/{schwab_connection.pk}/change/").content.decode())
    texts.append(admin.get("/admin/sync/account/").content.decode())
    assert_no_secrets(secrets, caplog=caplog, extra_texts=texts)
    assert "5678" in texts[2]  # the mask is shown


def test_admin_connect_and_reconnect_buttons(user, schwab_server, schwab_fake):
    user.is_staff = user.is_superuser = True
    user.save()
    admin = Client()
    admin.force_login(user)
    page = admin.get("/admin/sync/connection/add/")
    assert "?provider=schwab" in page.content.decode()
    page = admin.get("/admin/sync/connection/add/?provider=schwab")
    assert "Connect Charles Schwab" in page.content.decode()
    answer = admin.post("/admin/sync/connection/add/?provider=schwab", {"name": "Joint"})
    assert answer.status_code == 302 and answer["Location"].startswith(schwab_server.url + "/v1/oauth/authorize")
    landed = admin.get(local_path(follow_authorize(answer["Location"])))
    connection = Connection.objects.get(name="Joint")
    assert landed["Location"] == f"/admin/sync/connection/{connection.pk}/change/"
    page = admin.get(landed["Location"]).content.decode()
    assert "Re-authorize by" in page and "reconnect-panel" not in page
    Connection.objects.filter(pk=connection.pk).update(status="needs_reauth")
    page = admin.get(landed["Location"]).content.decode()
    assert "reconnect-panel" in page
    answer = admin.post(f"/admin/sync/connection/{connection.pk}/reconnect/")
    assert answer["Location"].startswith(schwab_server.url + "/v1/oauth/authorize")
    admin.get(local_path(follow_authorize(answer["Location"])))
    assert Connection.objects.get(pk=connection.pk).status == "active"
    # Day 6: the warning shows.
    config = {**connection.config, "reauth_due_at": (datetime.now(UTC) + timedelta(hours=20)).isoformat()}
    Connection.objects.filter(pk=connection.pk).update(config=config)
    assert "soon: use Reconnect" in admin.get(landed["Location"]).content.decode()


def test_declined_at_schwab_is_refused_and_the_state_spent(user, schwab_server):
    start = oauth.start_authorization(user=user, provider="schwab", source="api")
    answer = Client().get(
        f"/oauth/schwab/callback?error=access_denied&state={start.state}", HTTP_ACCEPT="application/json"
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
    assert "did not authorize" in answer.json()["message"]
    assert Connection.objects.count() == 0
    assert OAuthState.objects.get().used_at is not None


def test_cli_reconnect_of_a_simplefin_connection(
    user, other_user, simplefin_fake, simplefin_server, simplefin_connection
):
    _sync_all(simplefin_connection, user)
    simplefin_fake.password = "rotated-pass-777"
    out = io.StringIO()
    call_command(
        "connect",
        "simplefin",
        "--user",
        "alice",
        "--reconnect",
        str(simplefin_connection.pk),
        "--setup-token",
        simplefin_fake.setup_token(simplefin_server.url, "third"),
        "--format",
        "json",
        stdout=out,
    )
    assert json.loads(out.getvalue()) == {"id": str(simplefin_connection.pk)}
    assert "rotated-pass-777" in decrypt_credentials(Connection.objects.get().credentials_encrypted)["access_url"]
    with pytest.raises(CommandError, match="not_found"):
        call_command(
            "connect",
            "simplefin",
            "--user",
            "bob",
            "--reconnect",
            str(simplefin_connection.pk),
            "--setup-token",
            "x",
            stdout=io.StringIO(),
        )
