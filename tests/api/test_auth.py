"""Authentication (token, session with CSRF), 401s, and the scoped sync throttle."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sync.models import SyncRun

PROTECTED = [
    ("get", "/api/"),
    ("get", "/api/connections/"),
    ("post", "/api/connections/"),
    ("get", "/api/accounts/"),
    ("get", "/api/transactions/"),
    ("get", "/api/holdings/"),
    ("get", "/api/sync-runs/"),
    ("get", "/api/audit-events/"),
    ("get", "/api/schema/"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_everything_requires_authentication(anonymous, db, method, path):
    response = getattr(anonymous, method)(path, format="json", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_sync_and_detail_endpoints_require_authentication(anonymous, demo_connection):
    for path in (
        f"/api/connections/{demo_connection.pk}/",
        f"/api/connections/{demo_connection.pk}/sync-accounts/",
        f"/api/connections/{demo_connection.pk}/sync-transactions/",
    ):
        method = "get" if path.endswith(f"{demo_connection.pk}/") else "post"
        assert getattr(anonymous, method)(path, {}, format="json").status_code == 401
    assert not SyncRun.objects.exists()


def test_a_wrong_token_is_401_authentication_failed(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/connections/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_inactive_users_token_is_refused(user, alice):
    user.is_active = False
    user.save()
    assert alice.get("/api/connections/").status_code == 401


def test_drf_create_token_command_makes_a_working_token(user, demo_connection, capsys):
    call_command("drf_create_token", user.username)
    key = Token.objects.get(user=user).key
    assert key in capsys.readouterr().out
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/connections/").json()["count"] == 1


def test_session_authentication_with_csrf(user, demo_connection):
    client = APIClient(enforce_csrf_checks=True)
    # django-axes needs a request in authenticate(); the test client's login passes none (axes' testing docs).
    assert client.login(request=HttpRequest(), username="alice", password="correct horse battery staple")
    assert client.get("/api/connections/").json()["count"] == 1

    url = f"/api/connections/{demo_connection.pk}/sync-accounts/"
    refused = client.post(url, {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["message"]

    # The browsable API's login page hands out the CSRF cookie a browser would send back.
    login_page = client.get("/api/auth/login/")
    assert login_page.status_code == 200
    token = client.cookies["csrftoken"].value
    accepted = client.post(url, {}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "succeeded"


def test_browsable_api_renders_for_a_logged_in_user(user, demo_connection):
    client = APIClient()
    client.force_login(user)
    response = client.get("/api/connections/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Demo bank" in response.content


def test_sync_throttle_returns_429_with_retry_after(settings, alice, operator, demo_connection):
    settings.FINSYNC_SYNC_THROTTLE_RATE = "2/minute"
    url = f"/api/connections/{demo_connection.pk}/sync-accounts/"
    assert alice.post(url, {}, format="json").status_code == 200
    # The scope covers all three sync actions together.
    assert alice.post(f"/api/connections/{demo_connection.pk}/sync-transactions/", {}, format="json").status_code == 200
    throttled = alice.post(url, {}, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["retry_after"] == int(throttled["Retry-After"])
    brokerage_id = demo_connection.accounts.get(type="investment").pk
    assert alice.post(f"/api/accounts/{brokerage_id}/sync-holdings/", {}, format="json").status_code == 429
    # Reads are not throttled, and the limit is per user.
    assert alice.get("/api/connections/").status_code == 200
    assert operator.post(url, {}, format="json").status_code == 200


def test_throttle_rate_is_read_per_request(settings, alice, demo_connection):
    url = f"/api/connections/{demo_connection.pk}/sync-accounts/"
    settings.FINSYNC_SYNC_THROTTLE_RATE = "1/hour"
    assert alice.post(url, {}, format="json").status_code == 200
    assert alice.post(url, {}, format="json").status_code == 429
    settings.FINSYNC_SYNC_THROTTLE_RATE = "10/hour"
    assert alice.post(url, {}, format="json").status_code == 200


def test_browsable_api_offers_the_sync_form(user, demo_connection):
    client = APIClient()
    client.force_login(user)
    response = client.get(f"/api/connections/{demo_connection.pk}/sync-transactions/", HTTP_ACCEPT="text/html")
    assert response.status_code == 405
    html = response.content.decode()
    assert "start_date" in html
    assert "account_id" in html
