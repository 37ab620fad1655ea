"""Shared fixtures. The suite runs on the database DATABASE_URL names
(`make test` runs it once on PostgreSQL and once on SQLite)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection as db_connection

from tests.factories import ConnectionFactory, UserFactory

TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _finsync_settings(settings):
    """Settings every test starts from, independent of any local .env."""
    settings.FINSYNC_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    settings.FINSYNC_MIN_SYNC_INTERVAL = 300
    settings.FINSYNC_DEFAULT_SYNC_DAYS = 30
    settings.FINSYNC_MAX_SYNC_DAYS = 730
    settings.FINSYNC_SYNC_LEASE_SECONDS = 900
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = False
    # The suite's provider fakes listen on loopback; the SSRF tests turn this off.
    settings.FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS = True
    # Fast hashing: the suite creates many users; nothing here tests password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def is_postgres() -> bool:
    return db_connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _postgres_only(request):
    if request.node.get_closest_marker("postgres_only") and db_connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def staff_syncer(db):
    """A staff member holding sync.sync_connection."""
    from django.contrib.auth.models import Permission

    staff = UserFactory(username="operator", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="sync_connection", content_type__app_label="sync"))
    return staff


@pytest.fixture
def demo_connection(user):
    """A demo connection of `alice`, pinned to a fixed day so data is stable."""
    return ConnectionFactory(owner=user)


@pytest.fixture
def live_database_url(tmp_path):
    """A fresh, empty database of the suite's kind for a separate process (CLI, benchmark) to migrate and use."""
    settings_dict = db_connection.settings_dict
    if db_connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'process.sqlite3'}"
        return
    import uuid

    import psycopg

    name = f"finsync_proc_{uuid.uuid4().hex[:12]}"
    params = {
        "host": settings_dict["HOST"] or "127.0.0.1",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_configure(config):
    from sync.audit import dbguard

    # The flush between transactional tests empties the audit table (SQLite trigger, migration 0003).
    dbguard.allow_purge_everywhere(True)
