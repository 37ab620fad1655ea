"""Plaid the way apps connect it: Link tokens, public-token exchange, verified webhooks, item removal,
investment transactions; against the loopback Plaid fake, through the API, the services and the handlers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import date
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.management import call_command
from rest_framework.test import APIClient

from providers import plaid_webhooks
from sync.models import AuditEvent, Connection, SyncRun, Transaction
from sync.services.connections import create_connection
from sync.services.plaid import client_user_id
from tests.fakes.plaid import investment_transaction, plaid_error, security
from tests.providers.conftest import PLAID_TOKEN
from tests.providers.helpers import assert_no_secrets

PUBLIC_TOKEN = "public-sandbox-5c7e1a9d-0f4b-4e21-9a3c-alice"
KID = "bfbd5111-8e33-4643-8ced-b2e642a72f3c"
ITEM_ID = "item-1"


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    plaid_webhooks.KEYS.clear()
    yield
    plaid_webhooks.KEYS.clear()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def signing_key(plaid_fake):
    """A P-256 key pair made here; Plaid's verification key KID serves its public half."""
    key = ec.generate_private_key(ec.SECP256R1())
    plaid_fake.add_webhook_key(KID, key)
    return key


def _linked(api, plaid_fake, public_token=PUBLIC_TOKEN):
    plaid_fake.add_public_token(public_token, plaid_fake.items[PLAID_TOKEN])
    return api.post(
        "/api/connections/",
        {"provider": "plaid", "name": "Linked bank", "credentials": {"public_token": public_token}},
        format="json",
    )


@pytest.fixture
def linked(api, plaid_fake, plaid_server):
    response = _linked(api, plaid_fake)
    assert response.status_code == 201, response.content
    return Connection.objects.get(pk=response.json()["id"])


def _webhook(plaid_fake, payload: dict, **sign) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, plaid_fake.sign_webhook(body, kid=sign.pop("kid", KID), **sign)


def _post_webhook(body: bytes, token: str | None):
    headers = {"HTTP_PLAID_VERIFICATION": token} if token is not None else {}
    return APIClient().post("/api/webhooks/plaid/", data=body, content_type="application/json", **headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_made_jwt(header: dict, claims: dict, secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def _state(connection) -> tuple:
    row = Connection.objects.get(pk=connection.pk)
    return row.status, row.sync_requested_at, row.sync_requested_kinds, AuditEvent.objects.count()


# --- Link tokens ----------------------------------------------------------------------------------


def test_link_token_for_a_new_item_names_the_app_products_user_and_webhook(
    api, user, plaid_fake, plaid_server, settings
):
    settings.FINSYNC_PUBLIC_URL = "https://finsync.example.com/"
    response = api.post("/api/plaid/link-token/", {"investments": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["link_token"].startswith("link-sandbox-") and response.json()["expiration"]
    sent = plaid_fake.link_tokens[-1]
    assert sent["client_name"] == "FinSync" and sent["language"] == "en" and sent["country_codes"] == ["US"]
    assert sent["products"] == ["transactions", "investments"]
    assert sent["webhook"] == "https://finsync.example.com/api/webhooks/plaid/"
    assert "access_token" not in sent
    uid = sent["user"]["client_user_id"]
    assert uid == client_user_id(user) and uid not in (user.username, user.email, str(user.pk))
    settings.FINSYNC_PUBLIC_URL = ""
    settings.PLAID_CLIENT_NAME, settings.PLAID_COUNTRY_CODES = "My Money", ["US", "CA"]
    assert api.post("/api/plaid/link-token/", {}, format="json").status_code == 200
    sent = plaid_fake.link_tokens[-1]
    assert "webhook" not in sent and sent["products"] == ["transactions"]
    assert (sent["client_name"], sent["country_codes"]) == ("My Money", ["US", "CA"])
    assert sent["user"]["client_user_id"] == uid  # stable


def test_update_mode_link_token_carries_the_items_access_token_only_for_the_owner(api, linked, plaid_fake, other_user):
    response = api.post("/api/plaid/link-token/", {"connection_id": str(linked.pk)}, format="json")
    assert response.status_code == 200, response.content
    sent = plaid_fake.link_tokens[-1]
    assert sent["access_token"] == PLAID_TOKEN and "products" not in sent
    assert PLAID_TOKEN not in response.content.decode()
    other = APIClient()
    other.force_authenticate(other_user)
    refused = other.post("/api/plaid/link-token/", {"connection_id": str(linked.pk)}, format="json")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert api.post("/api/plaid/link-token/", {"connection_id": "nope"}, format="json").status_code == 400
    assert APIClient().post("/api/plaid/link-token/", {}, format="json").status_code in (401, 403)


# --- exchange ------------------------------------------------------------------------------------


def test_a_public_token_is_exchanged_once_and_the_access_token_stored_encrypted(api, plaid_fake, plaid_server, caplog):
    caplog.set_level(logging.DEBUG)
    first = _linked(api, plaid_fake)
    assert first.status_code == 201, first.content
    connection = Connection.objects.get(pk=first.json()["id"])
    assert connection.config["item_id"] == ITEM_ID
    assert PLAID_TOKEN not in connection.credentials_encrypted and PUBLIC_TOKEN not in connection.credentials_encrypted
    exchanges = [r for r in plaid_fake.requests if r.path == "/item/public_token/exchange"]
    assert json.loads(exchanges[0].body) == {"public_token": PUBLIC_TOKEN}
    again = api.post(
        "/api/connections/",
        {"provider": "plaid", "name": "Again", "credentials": {"public_token": PUBLIC_TOKEN}},
        format="json",
    )
    assert again.status_code == 400, again.content
    body = again.json()
    assert body["code"] == "validation_error" and "already exchanged" in body["message"]
    assert "credentials.public_token" in body["fields"]
    assert Connection.objects.count() == 1
    both = api.post(
        "/api/connections/",
        {"provider": "plaid", "name": "x", "credentials": {"public_token": "public-x", "access_token": PLAID_TOKEN}},
        format="json",
    )
    assert both.status_code == 400 and both.json()["code"] == "validation_error"
    texts = [first.content.decode(), again.content.decode(), both.content.decode()]
    assert_no_secrets([PUBLIC_TOKEN, PLAID_TOKEN], caplog=caplog, extra_texts=texts)


# --- webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "kinds"),
    [
        ({"webhook_type": "TRANSACTIONS", "webhook_code": "SYNC_UPDATES_AVAILABLE"}, "active", ["transactions"]),
        ({"webhook_type": "INVESTMENTS_TRANSACTIONS", "webhook_code": "DEFAULT_UPDATE"}, "active", ["transactions"]),
        ({"webhook_type": "HOLDINGS", "webhook_code": "DEFAULT_UPDATE"}, "active", ["holdings"]),
        (
            {"webhook_type": "ITEM", "webhook_code": "ERROR", "error": {"error_code": "ITEM_LOGIN_REQUIRED"}},
            "needs_reauth",
            [],
        ),
        ({"webhook_type": "ITEM", "webhook_code": "PENDING_EXPIRATION"}, "needs_reauth", []),
        ({"webhook_type": "ITEM", "webhook_code": "PENDING_DISCONNECT"}, "needs_reauth", []),
        ({"webhook_type": "ITEM", "webhook_code": "USER_PERMISSION_REVOKED"}, "disconnected", []),
        ({"webhook_type": "ITEM", "webhook_code": "WEBHOOK_UPDATE_ACKNOWLEDGED"}, "active", []),
        (
            {"webhook_type": "ITEM", "webhook_code": "ERROR", "error": {"error_code": "INTERNAL_SERVER_ERROR"}},
            "active",
            [],
        ),
    ],
)
def test_a_verified_webhook_acts_on_its_items_connection(linked, plaid_fake, signing_key, payload, status, kinds):
    body, token = _webhook(plaid_fake, {**payload, "item_id": ITEM_ID, "environment": "sandbox"})
    response = _post_webhook(body, token)
    assert response.status_code == 200, response.content
    connection = Connection.objects.get(pk=linked.pk)
    assert connection.status == status
    assert connection.sync_requested_kinds == kinds
    assert (connection.sync_requested_at is not None) == bool(kinds)
    events = AuditEvent.objects.filter(connection_id=linked.pk, source="webhook")
    code = f"{payload['webhook_type']}/{payload['webhook_code']}"
    if kinds:
        event = events.get(event="connection.sync_requested")
        assert event.payload["kinds"] == kinds and code in event.payload["reason"]
    elif status != "active":
        event = events.get(event="connection.status_changed")
        assert event.payload["to"] == status and code in event.payload["reason"]
    else:
        assert not events.exists() and response.json() == {"action": "ignored"}


def test_a_webhook_for_an_unknown_item_is_ignored(linked, plaid_fake, signing_key):
    before = _state(linked)
    body, token = _webhook(
        plaid_fake, {"webhook_type": "TRANSACTIONS", "webhook_code": "SYNC_UPDATES_AVAILABLE", "item_id": "item-x"}
    )
    response = _post_webhook(body, token)
    assert response.status_code == 200 and response.json() == {"action": "ignored"}
    assert _state(linked) == before


FORGED = [
    "no header",
    "not a jwt",
    "alg none",
    "alg HS256",
    "wrong signature",
    "stale iat",
    "body changed",
    "unknown kid",
    "expired key",
]


@pytest.mark.parametrize("forgery", FORGED)
def test_a_forged_webhook_is_401_and_changes_nothing(linked, plaid_fake, signing_key, forgery, caplog):
    import jwt

    caplog.set_level(logging.INFO)
    payload = {"webhook_type": "ITEM", "webhook_code": "USER_PERMISSION_REVOKED", "item_id": ITEM_ID}
    body = json.dumps(payload).encode()
    good_claims = {"iat": int(time.time()), "request_body_sha256": hashlib.sha256(body).hexdigest()}
    if forgery == "no header":
        token = None
    elif forgery == "not a jwt":
        token = "garbage"
    elif forgery == "alg none":
        token = jwt.encode(good_claims, None, algorithm="none", headers={"kid": KID})
    elif forgery == "alg HS256":
        # HMAC-signed with the public key's PEM as the secret: the classic algorithm confusion.
        # Made by hand: PyJWT refuses to sign with a key that looks like a public key.
        pem = signing_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        token = _hand_made_jwt({"alg": "HS256", "kid": KID, "typ": "JWT"}, good_claims, pem)
    elif forgery == "wrong signature":
        token = plaid_fake.sign_webhook(body, kid=KID, private_key=ec.generate_private_key(ec.SECP256R1()))
    elif forgery == "stale iat":
        token = plaid_fake.sign_webhook(body, kid=KID, iat=int(time.time()) - 301)
    elif forgery == "body changed":
        token = plaid_fake.sign_webhook(body, kid=KID)
        body = body.replace(b"USER_PERMISSION_REVOKED", b"PENDING_EXPIRATION")
    elif forgery == "unknown kid":
        token = plaid_fake.sign_webhook(body, kid="kid-nobody-has", private_key=signing_key)
    else:
        plaid_fake.add_webhook_key("old-kid", signing_key, expired=True)
        token = plaid_fake.sign_webhook(body, kid="old-kid")
    before = _state(linked)
    response = _post_webhook(body, token)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "webhook_unverified"
    assert _state(linked) == before
    assert "USER_PERMISSION_REVOKED" not in caplog.text and "PENDING_EXPIRATION" not in caplog.text
    assert "Plaid webhook refused" in caplog.text


def test_keys_are_cached_and_an_unknown_kid_is_not_asked_for_again_at_once(linked, plaid_fake, signing_key):
    def key_requests():
        return [json.loads(r.body)["key_id"] for r in plaid_fake.requests if r.path == "/webhook_verification_key/get"]

    payload = {"webhook_type": "ITEM", "webhook_code": "WEBHOOK_UPDATE_ACKNOWLEDGED", "item_id": ITEM_ID}
    for _ in range(3):
        assert _post_webhook(*_webhook(plaid_fake, payload)).status_code == 200
    assert key_requests() == [KID]
    forged = _webhook(plaid_fake, payload, kid="kid-unknown", private_key=signing_key)
    for _ in range(3):
        assert _post_webhook(*forged).status_code == 401
    assert key_requests() == [KID, "kid-unknown"]


# --- requested syncs ------------------------------------------------------------------------------


def test_a_requested_sync_is_served_once_within_the_interval_and_cleared(linked, user, plaid_fake, signing_key):
    call_command("sync", "all", "--all-connections")
    runs = SyncRun.objects.filter(connection=linked).count()
    call_command("sync", "all", "--all-connections")
    assert SyncRun.objects.filter(connection=linked).count() == runs  # recently synced: not due
    payload = {"webhook_type": "TRANSACTIONS", "webhook_code": "SYNC_UPDATES_AVAILABLE", "item_id": ITEM_ID}
    for _ in range(3):  # Plaid retries, duplicates
        assert _post_webhook(*_webhook(plaid_fake, payload)).status_code == 200
    assert AuditEvent.objects.filter(event="connection.sync_requested").count() == 3
    syncs_before = len(plaid_fake.sync_requests())
    call_command("sync", "all", "--all-connections")
    served = SyncRun.objects.filter(connection=linked).count() - runs
    assert served == runs  # one pass of every kind, whatever the interval
    assert len(plaid_fake.sync_requests()) == syncs_before + 1
    row = Connection.objects.get(pk=linked.pk)
    assert row.sync_requested_at is None and row.sync_requested_kinds == []
    call_command("sync", "all", "--all-connections")
    assert SyncRun.objects.filter(connection=linked).count() == runs + served  # served once


# --- item removal ---------------------------------------------------------------------------------


def test_disconnect_removes_the_item_and_forgets_the_token(api, linked, plaid_fake):
    response = api.delete(f"/api/connections/{linked.pk}/")
    assert response.status_code == 204
    assert plaid_fake.removed_items == [ITEM_ID]
    row = Connection.objects.get(pk=linked.pk)
    assert row.status == "disconnected" and row.credentials_encrypted == ""
    event = AuditEvent.objects.get(connection_id=linked.pk, event="connection.status_changed")
    assert "warning" not in event.payload
    assert api.delete(f"/api/connections/{linked.pk}/").status_code == 204
    assert plaid_fake.removed_items == [ITEM_ID]  # a second disconnect tells Plaid nothing


def test_a_failing_item_remove_still_disconnects_with_a_warning(api, linked, plaid_fake):
    plaid_fake.fail_next(plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", status=500), path="/item/remove", times=5)
    response = api.delete(f"/api/connections/{linked.pk}/")
    assert response.status_code == 204
    row = Connection.objects.get(pk=linked.pk)
    assert row.status == "disconnected" and row.credentials_encrypted == ""
    event = AuditEvent.objects.get(connection_id=linked.pk, event="connection.status_changed")
    assert "Plaid was not told of the disconnect" in event.payload["warning"]
    assert plaid_fake.removed_items == []
    assert_no_secrets([PLAID_TOKEN, plaid_fake.secret])


# --- investment transactions -----------------------------------------------------------------------


def test_investment_transactions_across_offset_pages_mapped_and_unchanged_on_resync(user, plaid_fake, plaid_server):
    item = plaid_fake.items[PLAID_TOKEN]
    vti = security("sec-vti", "Vanguard Total Stock Market ETF", "VTI", "etf", 245.0)
    cash = security("sec-cash", "US Dollar", None, "cash", 1.0)
    item.add_investment_transaction(
        investment_transaction(
            "inv-buy",
            "acc-inv",
            date(2026, 5, 4),
            type="buy",
            subtype="buy",
            amount=2451.5,
            security_id="sec-vti",
            quantity=10,
            price=245.0,
            fees=1.5,
        ),
        vti,
    )
    item.add_investment_transaction(
        investment_transaction(
            "inv-sell",
            "acc-inv",
            date(2026, 5, 20),
            type="sell",
            subtype="sell",
            amount=-1230.0,
            security_id="sec-vti",
            quantity=-5,
            price=246.0,
            fees=0.0,
        )
    )
    item.add_investment_transaction(
        investment_transaction(
            "inv-div",
            "acc-inv",
            date(2026, 5, 28),
            type="cash",
            subtype="qualified dividend",
            amount=-12.34,
            security_id="sec-vti",
        )
    )
    item.add_investment_transaction(
        investment_transaction(
            "inv-fee",
            "acc-inv",
            date(2026, 6, 1),
            type="fee",
            subtype="account fee",
            amount=5.0,
            security_id="sec-cash",
        ),
        cash,
    )
    item.add_investment_transaction(
        investment_transaction(
            "inv-old", "acc-inv", date(2025, 1, 1), type="buy", subtype="buy", amount=1.0, security_id="sec-vti"
        )
    )
    plaid_fake.page_size = 2  # Plaid may answer fewer than `count`: 3 pages for 4 rows in the window
    connection = create_connection(
        owner=user, provider="plaid", name="P", options={"access_token": PLAID_TOKEN}, actor=user, source="cli"
    )
    call_command(
        "sync",
        "transactions",
        "--connection",
        str(connection.pk),
        "--start-date",
        "2026-05-01",
        "--end-date",
        "2026-06-15",
    )
    calls = [json.loads(r.body) for r in plaid_fake.requests if r.path == "/investments/transactions/get"]
    assert [c["options"]["offset"] for c in calls] == [0, 2]
    assert all(
        c["options"]["count"] == 500 and (c["start_date"], c["end_date"]) == ("2026-05-01", "2026-06-15") for c in calls
    )
    assert "account_ids" not in calls[0]["options"] and calls[1]["options"]["account_ids"] == ["acc-inv"]
    rows = {t.provider_transaction_id: t for t in Transaction.objects.filter(account__provider_account_id="acc-inv")}
    assert set(rows) == {"inv-buy", "inv-sell", "inv-div", "inv-fee"}
    buy, sell, div, fee = rows["inv-buy"], rows["inv-sell"], rows["inv-div"], rows["inv-fee"]
    assert (buy.activity_type, buy.symbol, buy.quantity, buy.price, buy.fees, buy.amount) == (
        "buy",
        "VTI",
        Decimal("10"),
        Decimal("245"),
        Decimal("1.5"),
        Decimal("-2451.50"),
    )
    assert (sell.activity_type, sell.quantity, sell.amount) == ("sell", Decimal("-5"), Decimal("1230.00"))
    assert (div.activity_type, div.amount) == ("dividend", Decimal("12.34"))
    assert (fee.activity_type, fee.symbol, fee.amount) == ("fee", "CUR:USD", Decimal("-5.00"))  # a cash security
    assert Transaction.objects.count() == 5 + 4  # the cash rows are still there
    call_command(
        "sync",
        "transactions",
        "--connection",
        str(connection.pk),
        "--force",
        "--start-date",
        "2026-05-01",
        "--end-date",
        "2026-06-15",
    )
    run = SyncRun.objects.filter(connection=connection, kind="transactions").order_by("-started_at").first()
    assert run.status == "succeeded" and (run.created_count, run.updated_count) == (0, 0)
    assert Transaction.objects.count() == 9


# --- update mode through the reconnect service ----------------------------------------------------


def test_update_mode_then_reconnect_keeps_the_connection_and_its_history(api, linked, plaid_fake, signing_key):
    """ITEM_LOGIN_REQUIRED -> an update-mode link token -> Link's public token posted to reconnect:
    the same connection, accounts and transactions, active again, audited as reconnected."""
    assert api.post(f"/api/connections/{linked.pk}/sync-accounts/").status_code == 200
    accounts = sorted(linked.accounts.values_list("pk", flat=True))
    body, token = _webhook(
        plaid_fake,
        {
            "webhook_type": "ITEM",
            "webhook_code": "ERROR",
            "item_id": ITEM_ID,
            "error": {"error_code": "ITEM_LOGIN_REQUIRED"},
        },
    )
    assert _post_webhook(body, token).status_code == 200
    assert Connection.objects.get(pk=linked.pk).status == "needs_reauth"

    update = api.post("/api/plaid/link-token/", {"connection_id": str(linked.pk)}, format="json")
    assert update.status_code == 200, update.content
    # Link in update mode hands the app a public token for the same item.
    plaid_fake.add_public_token("public-update-1", plaid_fake.items[PLAID_TOKEN])
    response = api.post(
        f"/api/connections/{linked.pk}/reconnect/", {"credentials": {"public_token": "public-update-1"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(linked.pk)
    connection = Connection.objects.get(pk=linked.pk)
    assert connection.status == "active"
    assert sorted(connection.accounts.values_list("pk", flat=True)) == accounts
    assert AuditEvent.objects.filter(connection_id=linked.pk, event="connection.reconnected").count() == 1
    assert api.post(f"/api/connections/{linked.pk}/sync-accounts/", {"force": True}, format="json").status_code == 200
