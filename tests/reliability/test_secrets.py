"""Credentials appear nowhere but encrypted in their column: not in the database's other
columns, logs, API responses or admin pages, after syncs that succeed and syncs that fail."""

from __future__ import annotations

import json
import logging

import pytest
from django.apps import apps
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from sync.models import Account, Connection
from tests.fakes.alpaca import rate_limited
from tests.fakes.plaid import plaid_error
from tests.providers.conftest import PLAID_TOKEN, WINDOW

pytestmark = pytest.mark.django_db


def database_dump() -> str:
    """Every row of every table the project defines or uses, but the encrypted credentials column."""
    rows = []
    for model in apps.get_models():
        values = [
            {k: v for k, v in row.items() if not (model is Connection and k == "credentials_encrypted")}
            for row in model.objects.values()
        ]
        rows.append((model._meta.label, list(values)))
    return json.dumps(rows, default=str)


@pytest.mark.slow
def test_credentials_never_leak(
    user,
    simplefin_fake,
    simplefin_server,
    plaid_fake,
    plaid_server,
    alpaca_fake,
    alpaca_server,
    caplog,
    client,
    settings,
):
    caplog.set_level(logging.DEBUG)
    access_url = simplefin_fake.access_url(simplefin_server.url)
    secrets = [
        simplefin_fake.password,
        f"{simplefin_fake.username}:{simplefin_fake.password}",
        access_url,
        PLAID_TOKEN,
        plaid_fake.secret,
        alpaca_fake.key_id,
        alpaca_fake.secret_key,
    ]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    seen: list[str] = []

    def call(method, url, body=None, status=None):
        response = getattr(api, method)(url, body, format="json")
        seen.append(response.content.decode())
        if status is not None:
            assert response.status_code == status, response.content
        return response

    sf = call(
        "post",
        "/api/connections/",
        {"provider": "simplefin", "name": "SF", "credentials": {"access_url": access_url}},
        201,
    ).json()["id"]
    pl = call(
        "post",
        "/api/connections/",
        {"provider": "plaid", "name": "PL", "credentials": {"access_token": PLAID_TOKEN}},
        201,
    ).json()["id"]
    alpaca_keys = {"api_key_id": alpaca_fake.key_id, "api_secret_key": alpaca_fake.secret_key}
    ap = call(
        "post", "/api/connections/", {"provider": "alpaca", "name": "AP", "credentials": alpaca_keys}, 201
    ).json()["id"]
    # A wrong secret at connect: refused, with a message that names neither key.
    call(
        "post",
        "/api/connections/",
        {"provider": "alpaca", "credentials": {**alpaca_keys, "api_secret_key": alpaca_fake.secret_key[::-1]}},
        400,
    )
    secrets.append(alpaca_fake.secret_key[::-1])
    window = {k: v.isoformat() for k, v in WINDOW.items()}
    for pk in (sf, pl, ap):
        call("post", f"/api/connections/{pk}/sync-accounts/", {}, 200)
        call("post", f"/api/connections/{pk}/sync-transactions/", window, 200)
        for account in Account.objects.filter(connection_id=pk, type="investment"):
            call("post", f"/api/accounts/{account.pk}/sync-holdings/", {}, 200)

    # Failures of every kind, each recorded with its message.
    simplefin_fake.fail_next(path="/accounts", status=500, times=3)
    call("post", f"/api/connections/{sf}/sync-accounts/", {"force": True}, 502)
    simplefin_fake.fail_next(path="/accounts", status=429, headers={"Retry-After": "30"})
    call("post", f"/api/connections/{sf}/sync-accounts/", {"force": True}, 503)
    simplefin_fake.fail_next(path="/accounts", status=200, body=b'{"errors": [], "accounts": [{"id": 1}]')
    call("post", f"/api/connections/{sf}/sync-transactions/", {**window, "force": True}, 502)
    plaid_fake.fail_next(
        plaid_error("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", status=429), path="/transactions/sync"
    )
    call("post", f"/api/connections/{pl}/sync-transactions/", {"force": True}, 503)
    plaid_fake.fail_next(plaid_error("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"), path="/accounts/get")
    call("post", f"/api/connections/{pl}/sync-accounts/", {"force": True}, 409)
    simplefin_fake.fail_next(path="/accounts", status=403)
    call("post", f"/api/connections/{sf}/sync-accounts/", {"force": True}, 409)
    alpaca_fake.fail_next(path="/v2/account/activities", status=500, times=3)
    call("post", f"/api/connections/{ap}/sync-transactions/", {**window, "force": True}, 502)
    alpaca_fake.fail_next(rate_limited(), path="/v2/account/activities")
    call("post", f"/api/connections/{ap}/sync-transactions/", {**window, "force": True}, 503)
    alpaca_fake.fail_next(path="/v2/account/activities", status=200, body=b'[{"id": "x", "activity_type": "FILL"}]')
    call("post", f"/api/connections/{ap}/sync-transactions/", {**window, "force": True}, 502)
    alpaca_fake.fail_next(
        path="/v2/account", status=401, body=b'{"code":40110000,"message":"request is not authorized"}'
    )
    call("post", f"/api/connections/{ap}/sync-accounts/", {"force": True}, 409)
    assert set(Connection.objects.values_list("status", flat=True)) == {"needs_reauth"}

    for url in (
        "/api/connections/",
        f"/api/connections/{sf}/",
        f"/api/connections/{pl}/",
        f"/api/connections/{ap}/",
        "/api/accounts/",
        "/api/sync-runs/?page_size=500",
        "/api/audit-events/?page_size=500",
        "/api/transactions/",
    ):
        call("get", url, status=200)

    admin = user
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    pages = []
    for url in (
        "/admin/sync/connection/",
        f"/admin/sync/connection/{sf}/change/",
        f"/admin/sync/connection/{pl}/change/",
        f"/admin/sync/connection/{ap}/change/",
        "/admin/sync/connection/add/?provider=alpaca",
        "/admin/sync/transaction/",
        "/admin/sync/syncrun/",
        "/admin/sync/auditevent/",
        "/admin/sync/account/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    for model, listing in (("syncrun", "sync_runs"), ("auditevent", "audit_events")):
        for pk in apps.get_model("sync", model).objects.values_list("pk", flat=True)[:40]:
            response = client.get(f"/admin/sync/{model}/{pk}/change/")
            assert response.status_code == 200, listing
            pages.append(response.content.decode())

    from sync.crypto import decrypt_credentials

    stored = json.dumps([decrypt_credentials(c.credentials_encrypted) for c in Connection.objects.all()])
    assert access_url in stored and PLAID_TOKEN in stored  # the secrets are real, and only there
    assert alpaca_fake.key_id in stored and alpaca_fake.secret_key in stored
    haystacks = {"database": database_dump(), "logs": caplog.text, "api": "\n".join(seen), "admin": "\n".join(pages)}
    assert "sync.transactions.failed" in haystacks["database"]  # the failures were recorded...
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a credential appears in the {where}"
