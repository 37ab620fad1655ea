"""`manage.py connect` and `manage.py sync all` as real processes against the loopback fakes.

The processes use their own SQLite file (a process cannot see the test
database's open transaction), migrated from scratch: this is what a new user
does, start to finish.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fakes.plaid import PlaidFake, plaid_error
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake
from tests.providers.conftest import PLAID_TOKEN, build_plaid_item, build_simplefin_bank

ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["--start-date", "2026-05-01", "--end-date", "2026-06-15"]


class Site:
    """A scratch FinSync installation: run manage.py commands and read its database."""

    def __init__(self, tmp_path: Path, extra_env: dict[str, str]) -> None:
        self.db = tmp_path / "finsync.sqlite3"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FINSYNC_", "PLAID_", "DATABASE_URL"))},
            "DATABASE_URL": f"sqlite:///{self.db}",
            "FINSYNC_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "FINSYNC_ALLOW_HTTP_PROVIDERS": "1",
            "FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS": "1",
            "FINSYNC_HTTP_READ_TIMEOUT": "5",
            "FINSYNC_HTTP_BACKOFF_SECONDS": "0.01",
            "FINSYNC_LOG_LEVEL": "DEBUG",
            **extra_env,
        }

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.db) as db:
            return sorted(db.execute(sql).fetchall())


@pytest.mark.slow
def test_new_user_connects_and_syncs_simplefin_and_plaid(tmp_path):
    fake = build_simplefin_bank(SimpleFINFake())
    plaid = PlaidFake()
    build_plaid_item(plaid)
    with LiveServer(fake) as server, LiveServer(plaid) as plaid_server:
        plaid_env = {
            "PLAID_BASE_URL": plaid_server.url,
            "PLAID_CLIENT_ID": plaid.client_id,
            "PLAID_SECRET": plaid.secret,
        }
        site = Site(tmp_path, plaid_env)
        assert site.run("migrate", "--noinput", "-v", "0").returncode == 0
        site.env["DJANGO_SUPERUSER_PASSWORD"] = "correct horse battery staple"
        assert (
            site.run("createsuperuser", "--noinput", "--username", "carol", "--email", "c@example.com").returncode == 0
        )

        token = fake.setup_token(server.url, "carol")
        connected = site.run("connect", "simplefin", "--user", "carol", "--setup-token", token)
        assert connected.returncode == 0, connected.stderr

        plaid_connected = site.run("connect", "plaid", "--user", "carol", "--access-token", PLAID_TOKEN)
        assert plaid_connected.returncode == 0, plaid_connected.stderr

        first = site.run("sync", "all", "--all-connections", *WINDOW)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "6 syncs: 6 ok, 0 skipped, 0 failed" in first.stdout
        transactions = "SELECT provider_transaction_id, amount, is_removed FROM sync_transaction"
        data = site.rows(transactions)
        assert len(data) == 7 + 5
        assert len(site.rows("SELECT id FROM sync_holding")) == 2 + 3

        again = site.run("sync", "all", "--all-connections", "--force", *WINDOW)
        assert again.returncode == 0
        assert "0 created, 0 updated, 7 unchanged, 0 removed" in again.stdout  # SimpleFIN window
        assert "0 created, 0 updated, 0 unchanged, 0 removed" in again.stdout  # Plaid: nothing since the cursor
        assert site.rows(transactions) == data

        fake.fail_next(path="/accounts", status=429, headers={"Retry-After": "60"})
        limited = site.run("sync", "transactions", "--all-connections", "--force", *WINDOW)
        assert limited.returncode == 1
        assert "failed (provider_rate_limited)" in limited.stdout and "60 seconds" in limited.stdout

        plaid.fail_next(plaid_error("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", status=429))
        limited = site.run("sync", "transactions", "--all-connections", "--force", *WINDOW)
        assert limited.returncode == 1
        assert limited.stdout.count("failed (provider_rate_limited)") == 1

        fake.fail_next(path="/accounts", body=b'{"errors": [], "accounts": [{"id": 1}]}')
        broken = site.run("sync", "transactions", "--all-connections", "--force", *WINDOW)
        assert broken.returncode == 1
        assert "failed (provider_bad_response): accounts[0].balance: missing" in broken.stdout

        fake.revoked = True
        plaid.items[PLAID_TOKEN].login_required = True
        revoked = site.run("sync", "all", "--all-connections", "--force", *WINDOW)
        assert revoked.returncode == 1
        assert revoked.stdout.count("failed (reauth_required)") == 2
        assert site.rows(transactions) == data
        assert site.rows("SELECT status FROM sync_connection") == [("needs_reauth",), ("needs_reauth",)]

        secrets = (fake.password, token, PLAID_TOKEN, plaid.secret)
        for output in (connected, plaid_connected, first, again, limited, broken, revoked):
            for text in (output.stdout, output.stderr):
                assert not [s for s in secrets if s in text]
        events = site.rows("SELECT payload FROM sync_auditevent") + site.rows("SELECT message FROM sync_syncrun")
        assert not [s for s in secrets if s in repr(events)]
