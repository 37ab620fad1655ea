"""Login limits (django-axes): the admin login and the API's session login lock a
username from one address after FINSYNC_LOGIN_FAILURE_LIMIT failures, even with the
right password, for FINSYNC_LOGIN_COOLOFF_MINUTES; every failure is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.utils import timezone

PASSWORD = "correct horse battery staple"
LOGIN_PAGES = ["/admin/login/", "/api/auth/login/"]


@pytest.fixture
def staff_alice(user):
    """alice as staff, so the admin login would let her in."""
    user.is_staff = True
    user.save()
    return user


def login(client: Client, page: str, password: str, address: str = "127.0.0.1"):
    return client.post(page, {"username": "alice", "password": password}, REMOTE_ADDR=address)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_right_password_logs_in_before_the_limit(staff_alice, page):
    client = Client()
    for _ in range(4):
        assert login(client, page, "wrong").status_code == 200
    response = login(client, page, PASSWORD)
    assert response.status_code == 302
    assert is_logged_in(client)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_login_is_locked_after_the_limit_even_with_the_right_password(staff_alice, page):
    client = Client()
    for _ in range(4):
        assert login(client, page, "wrong").status_code == 200
    fifth = login(client, page, "wrong")
    assert fifth.status_code == 429
    right = login(client, page, PASSWORD)
    assert right.status_code == 429
    assert not is_logged_in(client)
    assert int(right["Retry-After"]) == 15 * 60
    # Every failure is recorded, the refused right password too.
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start == 6
    assert AccessFailureLog.objects.filter(username="alice", locked_out=True).exists()
    assert AccessFailureLog.objects.filter(username="alice").count() == 6
    # No password is stored with the attempt.
    assert PASSWORD not in attempt.post_data and "wrong" not in attempt.post_data


def test_locked_api_login_answers_in_the_api_error_shape(user):
    client = Client()
    for _ in range(5):
        response = login(client, "/api/auth/login/", "wrong")
    assert response.status_code == 429
    assert response.json() == {
        "code": "login_locked",
        "message": "Too many failed logins: try again later.",
        "retry_after": 900,
    }


def test_limit_and_cooloff_come_from_the_settings(settings, staff_alice):
    settings.FINSYNC_LOGIN_FAILURE_LIMIT = 2
    settings.FINSYNC_LOGIN_COOLOFF_MINUTES = 1
    client = Client()
    assert login(client, "/admin/login/", "wrong").status_code == 200
    locked = login(client, "/admin/login/", "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert login(client, "/admin/login/", PASSWORD).status_code == 429
    # Once the cool-off has passed since the last failure, the right password works again.
    AccessAttempt.objects.filter(username="alice").update(attempt_time=timezone.now() - timedelta(minutes=2))
    assert login(client, "/admin/login/", PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_lockout_is_per_username_from_one_address(staff_alice, other_user):
    attacker = Client()
    for _ in range(5):
        login(attacker, "/admin/login/", "wrong", address="203.0.113.7")
    assert login(attacker, "/admin/login/", PASSWORD, address="203.0.113.7").status_code == 429
    # alice from her own address is not locked out by someone else's guesses...
    alice = Client()
    assert login(alice, "/admin/login/", PASSWORD, address="198.51.100.20").status_code == 302
    # ...and other usernames from the attacker's address are counted apart.
    bob = attacker.post("/api/auth/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    assert bob.status_code == 302


def test_token_authentication_is_not_a_login(user, alice):
    """API tokens skip authenticate(): a locked username's token keeps working (tokens are revoked, not locked)."""
    client = Client()
    for _ in range(5):
        login(client, "/api/auth/login/", "wrong")
    assert alice.get("/api/connections/").status_code == 200
