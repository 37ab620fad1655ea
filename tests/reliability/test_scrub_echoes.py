"""Providers that echo secrets: the loopback fakes put a connection's credentials and the server's
provider secrets, in the forms a real provider might (as given, upper-cased, URL-encoded, an echoed
Basic header), into error bodies and warnings. None of those forms may reach a SyncRun's message or
warnings, a Connection's last_error, any audit payload, an API body, an admin message or CLI output."""

from __future__ import annotations

import base64
import json
from io import StringIO
from urllib.parse import quote, quote_plus

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sync.models import AuditEvent, Connection, SyncRun
from sync.scrub import MARKER
from tests.fakes.plaid import JSON, PlaidFake
from tests.fakes.server import Fault
from tests.fakes.simplefin import SimpleFINFake
from tests.providers.conftest import build_plaid_item, build_simplefin_bank

pytestmark = pytest.mark.django_db

# Credentials with characters that URL-encoding changes, so that the encoded echo differs.
PLAID_TOKEN = "access-sandbox-7f3a/b+c=alice"
PLAID_SECRET = "plaid-secret/0123+xyz"
SF_USER, SF_PASSWORD = "sf-user", "sf-pass!s3cret$"


@pytest.fixture
def plaid_fake() -> PlaidFake:
    fake = PlaidFake(secret=PLAID_SECRET)
    build_plaid_item(fake, PLAID_TOKEN)
    return fake


@pytest.fixture
def simplefin_fake() -> SimpleFINFake:
    return build_simplefin_bank(SimpleFINFake(username=SF_USER, password=SF_PASSWORD))


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def b64(text: str) -> list[str]:
    forms = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(text.encode()).decode()
        forms += [whole, whole.rstrip("=")]
    return forms


def leaks(text: str, secrets: list[str], pairs: list[tuple[str, str]] = ()) -> list[str]:
    """The forms of `secrets` (and Basic headers of `pairs`) found in `text`."""
    found = []
    folded = text.casefold()
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            if form.casefold() in folded:
                found.append(form)
        found += [form for form in b64(secret) if form in text]
    for user, password in pairs:
        found += [form for form in b64(f"{user}:{password}") if form in text]
    return found


def stored(connection_id) -> dict[str, str]:
    """Every stored message of a connection's syncs, and every audit payload as JSON."""
    runs = SyncRun.objects.filter(connection_id=connection_id).order_by("started_at")
    return {
        "SyncRun.message": "\n".join(run.message for run in runs),
        "SyncRun.warnings": json.dumps([run.warnings for run in runs]),
        "Connection.last_error": Connection.objects.get(pk=connection_id).last_error,
        "AuditEvent.payload": json.dumps([event.payload for event in AuditEvent.objects.order_by("pk")]),
    }


def plaid_fault(status: int, error_type: str, code: str, *, message: str = "", display: str | None = None) -> Fault:
    body = {
        "error_type": error_type,
        "error_code": code,
        "error_message": message,
        "display_message": display,
        "request_id": "req-1",
    }
    return Fault(status=status, body=json.dumps(body).encode(), headers=dict(JSON), times=3)


PLAID_ECHOES = [
    pytest.param(
        plaid_fault(400, "INVALID_REQUEST", "INVALID_FIELD", message=f"access_token {PLAID_TOKEN} with {PLAID_SECRET}"),
        502,
        "provider_unavailable",
        id="exact-400",
    ),
    pytest.param(
        plaid_fault(
            400,
            "INVALID_REQUEST",
            "INVALID_FIELD",
            message=f"access_token {PLAID_TOKEN.upper()} with secret {PLAID_SECRET.upper()}",
        ),
        502,
        "provider_unavailable",
        id="upper-cased-400",
    ),
    pytest.param(
        plaid_fault(
            500,
            "API_ERROR",
            "INTERNAL_SERVER_ERROR",
            message=f"body access_token={quote(PLAID_TOKEN, safe='').lower()}&secret={quote_plus(PLAID_SECRET)}",
        ),
        502,
        "provider_unavailable",
        id="url-encoded-500",
    ),
    pytest.param(
        plaid_fault(
            400,
            "ITEM_ERROR",
            "ITEM_LOGIN_REQUIRED",
            message="login required",
            display=f"Item {b64(PLAID_TOKEN)[0]} needs a login (secret {b64(PLAID_SECRET)[1]})",
        ),
        409,
        "reauth_required",
        id="base64-reauth",
    ),
]


@pytest.mark.parametrize(("fault", "status", "code"), PLAID_ECHOES)
def test_plaid_error_echoing_the_token_and_secret_is_scrubbed(api, user, plaid_fake, plaid_server, fault, status, code):
    created = api.post(
        "/api/connections/",
        {"provider": "plaid", "name": "PL", "credentials": {"access_token": PLAID_TOKEN}},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    plaid_fake.fail_next(fault, path="/accounts/get")
    response = api.post(f"/api/connections/{pk}/sync-accounts/", {}, format="json")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert MARKER in body["message"] or "***" in body["message"]  # the echo was there, and redacted
    texts = {"API body": response.content.decode(), **stored(pk)}
    assert MARKER in texts["Connection.last_error"] or "***" in texts["Connection.last_error"]
    for where, text in texts.items():
        assert leaks(text, [PLAID_TOKEN, PLAID_SECRET]) == [], where


def test_plaid_connect_error_echoing_the_token_is_scrubbed(api, plaid_fake, plaid_server):
    fault = plaid_fault(
        400,
        "INVALID_REQUEST",
        "INVALID_FIELD",
        message=f"token {PLAID_TOKEN.upper()} / {quote(PLAID_TOKEN, safe='')} / secret {PLAID_SECRET.swapcase()}",
    )
    plaid_fake.fail_next(fault, path="/accounts/get")
    response = api.post(
        "/api/connections/",
        {"provider": "plaid", "name": "PL", "credentials": {"access_token": PLAID_TOKEN}},
        format="json",
    )
    assert response.status_code == 502, response.content
    assert MARKER in response.json()["message"]
    assert leaks(response.content.decode(), [PLAID_TOKEN, PLAID_SECRET]) == []
    assert not Connection.objects.exists()
    assert leaks(json.dumps([e.payload for e in AuditEvent.objects.all()]), [PLAID_TOKEN, PLAID_SECRET]) == []


def test_simplefin_warnings_echoing_the_basic_header_and_access_url_are_scrubbed(
    api, simplefin_fake, simplefin_server, settings
):
    access_url = simplefin_fake.access_url(simplefin_server.url)
    header = base64.b64encode(f"{SF_USER}:{SF_PASSWORD}".encode()).decode()
    settings.PLAID_SECRET = "server-wide-plaid-secret"
    settings.SCHWAB_CLIENT_SECRET = "schwab-client-secret-77"
    settings.FINSYNC_SERVER_SECRET_SETTINGS = ("PLAID_SECRET", "SCHWAB_CLIENT_SECRET")
    created = api.post(
        "/api/connections/",
        {"provider": "simplefin", "name": "SF", "credentials": {"access_url": access_url}},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    simplefin_fake.errors = [
        f"request had Authorization: Basic {header}",
        f"could not reach {quote(access_url, safe='')}",
        f"password {SF_PASSWORD.upper()} rejected",
        f"server keys {settings.PLAID_SECRET.upper()} and {settings.SCHWAB_CLIENT_SECRET}",
    ]
    simplefin_fake.errlist = [
        {"code": "con.auth", "message": f"retry with {base64.urlsafe_b64encode(header.encode()).decode()}"},
        {"code": "con.auth", "message": f"Basic {header.rstrip('=')} for {quote_plus(SF_PASSWORD).lower()}"},
    ]
    response = api.post(f"/api/connections/{pk}/sync-accounts/", {}, format="json")
    assert response.status_code == 200, response.content
    warnings = response.json()["warnings"]
    assert len(warnings) == 6 and all(MARKER in w for w in warnings), warnings
    run = SyncRun.objects.get(connection_id=pk, status="succeeded")
    assert run.warnings == warnings
    texts = {"API body": response.content.decode(), **stored(pk)}
    secrets = [access_url, SF_PASSWORD, header, settings.PLAID_SECRET, settings.SCHWAB_CLIENT_SECRET]
    for where, text in texts.items():
        assert leaks(text, secrets, [(SF_USER, SF_PASSWORD)]) == [], where


def test_cli_and_admin_show_scrubbed_plaid_errors(user, plaid_fake, plaid_server):
    from sync.services.connections import create_connection

    connection = create_connection(
        owner=user, provider="plaid", options={"access_token": PLAID_TOKEN}, actor=user, source="cli"
    )
    echo = f"token {PLAID_TOKEN.upper()} secret {quote(PLAID_SECRET, safe='')}"
    plaid_fake.fail_next(plaid_fault(400, "INVALID_REQUEST", "INVALID_FIELD", message=echo), path="/accounts/get")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("sync", "accounts", "--connection", str(connection.pk), "--format", "json", stdout=out, stderr=err)
    shown = out.getvalue() + err.getvalue() + str(failed.value)
    assert MARKER in shown
    assert leaks(shown, [PLAID_TOKEN, PLAID_SECRET]) == []

    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    plaid_fake.fail_next(plaid_fault(400, "INVALID_REQUEST", "INVALID_FIELD", message=echo), path="/accounts/get")
    response = client.post(f"/admin/sync/connection/{connection.pk}/sync/", {"kind": "accounts"}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any(MARKER in m for m in messages), messages
    assert leaks(response.content.decode() + "\n".join(messages), [PLAID_TOKEN, PLAID_SECRET]) == []
    for where, text in stored(connection.pk).items():
        assert leaks(text, [PLAID_TOKEN, PLAID_SECRET]) == [], where
