"""The API against a real SimpleFIN adapter talking HTTP to a loopback fake server.

Creating a connection claims the setup token (never shown afterwards); the
provider's HTTP failures reach the client as 400 / 409 / 502 / 503 bodies.
"""

from __future__ import annotations

from datetime import date

import pytest

from sync.crypto import decrypt_credentials
from sync.models import Connection
from tests.api.conftest import WINDOW
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake


@pytest.fixture(autouse=True)
def _loopback_http(settings):
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
    settings.FINSYNC_HTTP_CONNECT_TIMEOUT = 2.0
    settings.FINSYNC_HTTP_READ_TIMEOUT = 5.0
    settings.FINSYNC_HTTP_MAX_RETRIES = 0
    settings.FINSYNC_HTTP_BACKOFF_SECONDS = 0.01


@pytest.fixture
def fake():
    bank = SimpleFINFake()
    bank.add_account("chk-001", "Everyday Checking", balance="1520.35")
    bank.add_transaction("chk-001", "t-100", posted=date(2026, 5, 2), amount="3200.00", description="PAYROLL")
    bank.add_transaction("chk-001", "t-101", posted=date(2026, 5, 4), amount="-54.20", description="GROCERY")
    return bank


@pytest.fixture
def server(fake):
    with LiveServer(fake) as live:
        yield live


@pytest.fixture
def simplefin(alice, fake, server):
    """alice's SimpleFIN connection, created through the API with a setup token."""
    response = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "name": "Credit union", "credentials": {"setup_token": fake.setup_token(server.url)}},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Connection.objects.get(pk=response.json()["id"])


def test_create_claims_the_setup_token_and_never_returns_the_access_url(alice, fake, server, simplefin):
    assert decrypt_credentials(simplefin.credentials_encrypted)["access_url"] == fake.access_url(server.url)
    for path in ("/api/connections/", f"/api/connections/{simplefin.pk}/"):
        text = alice.get(path).content.decode()
        assert fake.password not in text
        assert "claim" not in text


def test_a_claimed_token_cannot_be_used_again(alice, fake, server, simplefin):
    response = alice.post(
        "/api/connections/",
        {"provider": "simplefin", "credentials": {"setup_token": fake.setup_token(server.url)}},
        format="json",
    )
    assert response.status_code == 400
    assert "already claimed" in response.json()["fields"]["credentials"][0]
    assert Connection.objects.count() == 1


@pytest.mark.parametrize(
    "credentials", [{}, {"setup_token": "not base64!"}, {"setup_token": "x", "access_url": "http://a:b@127.0.0.1/"}]
)
def test_bad_simplefin_inputs_are_400(alice, credentials):
    response = alice.post("/api/connections/", {"provider": "simplefin", "credentials": credentials}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["credentials"]


def test_sync_through_the_api(alice, simplefin):
    accounts = alice.post(f"/api/connections/{simplefin.pk}/sync-accounts/", {}, format="json").json()
    assert (accounts["status"], accounts["created"]) == ("succeeded", 1)
    transactions = alice.post(f"/api/connections/{simplefin.pk}/sync-transactions/", WINDOW, format="json").json()
    assert (transactions["status"], transactions["created"]) == ("succeeded", 2)
    amounts = sorted(t["amount"] for t in alice.get("/api/transactions/").json()["results"])
    assert amounts == ["-54.2000", "3200.0000"]


@pytest.mark.parametrize(
    ("fault", "status_code", "code"),
    [
        ({"status": 429, "headers": {"Retry-After": "17"}}, 503, "provider_rate_limited"),
        ({"status": 500}, 502, "provider_unavailable"),
        ({"status": 200, "body": b"not json"}, 502, "provider_bad_response"),
        ({"status": 403}, 409, "reauth_required"),
    ],
)
def test_provider_http_failures(alice, fake, simplefin, fault, status_code, code):
    fake.fail_next(path="/accounts", **fault)
    response = alice.post(f"/api/connections/{simplefin.pk}/sync-accounts/", {}, format="json")
    assert response.status_code == status_code, response.content
    assert response.json()["code"] == code
    if status_code == 503:
        assert response["Retry-After"] == "17"
    assert fake.password not in response.content.decode()
