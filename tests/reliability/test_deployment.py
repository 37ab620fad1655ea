"""Production settings, checked in separate processes as a deployment starts them: with
DEBUG off, no built-in SECRET_KEY, `check --deploy` clean by default (each HTTPS setting
switchable for a plain-http intranet), and a cache that every process shares, ready after
`migrate` alone."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_ENCRYPTION_KEY

ROOT = Path(__file__).resolve().parent.parent.parent
# What the suite's environment (pyproject, pytest-env) or a developer's shell may set; a deployment sets none.
DEPLOYMENT_SETTINGS = (
    "SECRET_KEY",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "CACHE_URL",
)


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a deployment: DEBUG off, a fresh key, nothing else; a local .env left out."""
    env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_SETTINGS}
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.touch()
    env.update(
        FINSYNC_ENV_FILE=str(empty_env_file),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_defaults(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_https_settings_switch_off_for_a_plain_http_intranet(tmp_path):
    env = production_env(
        tmp_path, SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0"
    )
    result = manage(env, "check", "--deploy")
    assert result.returncode == 0, result.stderr
    warned = {code for code in ("W004", "W008", "W012", "W016") if f"security.{code}" in result.stderr}
    assert warned == {"W004", "W008", "W012", "W016"}, result.stderr


def test_missing_secret_key_stops_start_up_naming_it(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_debug_keeps_a_local_fallback_key(tmp_path):
    env = production_env(tmp_path, DEBUG="1")
    del env["SECRET_KEY"]
    assert manage(env, "check").returncode == 0


SYNC_ONCE = """
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from sync.models import Connection
connection = Connection.objects.get()
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get(user=connection.owner).key)
print(client.post(f"/api/connections/{connection.pk}/sync-accounts/", {}, format="json").status_code)
"""


def test_throttle_counts_are_shared_by_processes_after_migrate_alone(tmp_path, live_database_url):
    """Two processes on one database: the second sees the first's throttle count (a per-process cache would not)."""
    env = production_env(
        tmp_path,
        DATABASE_URL=live_database_url,
        FINSYNC_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        FINSYNC_SYNC_THROTTLE_RATE="1/hour",
        FINSYNC_MIN_SYNC_INTERVAL="0",
        # The test client's host, over plain http.
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
    )
    migrated = manage(env, "migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    made = manage(
        env, "shell", "-v", "0", "-c", "from django.contrib.auth.models import User; User.objects.create_user('carol')"
    )
    assert made.returncode == 0, made.stderr
    assert manage(env, "drf_create_token", "carol").returncode == 0
    connected = manage(env, "connect", "demo", "--user", "carol")
    assert connected.returncode == 0, connected.stderr

    first = manage(env, "shell", "-v", "0", "-c", SYNC_ONCE)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[-1] == "200"
    second = manage(env, "shell", "-v", "0", "-c", SYNC_ONCE)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split()[-1] == "429"


PRINT_CACHE = "from django.conf import settings; c = settings.CACHES['default']; print(c['BACKEND'], c['LOCATION'])"


@pytest.mark.parametrize(
    ("cache_url", "expected"),
    [
        (None, "django.core.cache.backends.db.DatabaseCache finsync_cache"),
        ("dbcache://other_cache", "django.core.cache.backends.db.DatabaseCache other_cache"),
        ("redis://127.0.0.1:6379/0", "django.core.cache.backends.redis.RedisCache redis://127.0.0.1:6379/0"),
    ],
)
def test_cache_comes_from_cache_url(tmp_path, cache_url, expected):
    env = production_env(tmp_path, **({"CACHE_URL": cache_url} if cache_url else {}))
    result = manage(env, "shell", "-v", "0", "-c", PRINT_CACHE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
