"""API fixtures: clients authenticated by token as alice, bob and a staff syncer."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from providers import registry
from tests.api.failing_provider import FailingProvider

WINDOW = {"start_date": "2026-05-01", "end_date": "2026-06-15"}
WINDOW_DATES = (date(2026, 5, 1), date(2026, 6, 15))


@pytest.fixture(autouse=True)
def _fresh_throttle(settings, db):
    """Throttle counters live in the cache (a database table); every test starts with none and a roomy rate."""
    settings.FINSYNC_SYNC_THROTTLE_RATE = "1000/minute"
    settings.FINSYNC_CONNECT_THROTTLE_RATE = "1000/minute"
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def bob(other_user) -> APIClient:
    return token_client(other_user)


@pytest.fixture
def operator(staff_syncer) -> APIClient:
    return token_client(staff_syncer)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def synced_connection(alice, demo_connection):
    """alice's demo connection after accounts, transactions (May-June 2026) and holdings syncs via the API."""
    base = f"/api/connections/{demo_connection.pk}"
    assert alice.post(f"{base}/sync-accounts/", {}, format="json").status_code == 200
    assert alice.post(f"{base}/sync-transactions/", WINDOW, format="json").status_code == 200
    brokerage = demo_connection.accounts.get(type="investment")
    assert alice.post(f"/api/accounts/{brokerage.pk}/sync-holdings/", {}, format="json").status_code == 200
    return demo_connection


@pytest.fixture
def failing_provider():
    """A registered adapter whose fetches fail with the error named in its config (see failing_provider.py)."""
    registry.register(FailingProvider)
    yield FailingProvider
    registry._REGISTRY.pop(FailingProvider.slug, None)
