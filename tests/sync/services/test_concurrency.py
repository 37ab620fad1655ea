"""One sync per connection under real concurrency, and the fleet across processes (PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from sync import errors
from sync.models import Connection, SyncRun, Transaction
from sync.services.fleet import claim_next, release, run_worker
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.factories import ConnectionFactory, SyncRunFactory
from tests.sync.helpers import accounts, transactions

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_simultaneous_syncs_of_one_connection_run_once(user, flaky_provider):
    threads_count = 8
    connection = ConnectionFactory(owner=user, provider="flaky", config={"delay": 1.0})
    barrier = threading.Barrier(threads_count)
    outcomes: list = []

    def attempt():
        barrier.wait()
        try:
            outcomes.append(transactions(connection, user, force=True))
        except errors.SyncError as error:
            outcomes.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    succeeded = [o for o in outcomes if not isinstance(o, errors.SyncError)]
    refused = [o for o in outcomes if isinstance(o, errors.SyncInProgress)]
    assert (len(succeeded), len(refused)) == (1, threads_count - 1)
    assert Transaction.objects.count() == succeeded[0].created > 0
    runs = SyncRun.objects.filter(connection=connection)
    assert runs.filter(status="succeeded").count() == 1
    assert runs.filter(status="failed", reason_code="sync_in_progress").count() == threads_count - 1
    assert not runs.filter(status="running").exists()


@pytest.mark.django_db
def test_stale_claim_is_taken_over_after_the_lease(demo_connection, user, settings):
    settings.FINSYNC_SYNC_LEASE_SECONDS = 60
    crashed = SyncRunFactory(
        connection=demo_connection,
        started_at=timezone.now() - timedelta(minutes=5),
        lease_expires_at=timezone.now() - timedelta(minutes=4),
    )
    result = accounts(demo_connection, user)
    crashed.refresh_from_db()
    assert result.status == "succeeded"
    assert (crashed.status, crashed.reason_code) == ("failed", "lease_expired")
    assert SyncRun.objects.get(pk=result.sync_run_id).lease_expires_at is None


@pytest.mark.django_db
def test_fleet_claims_each_due_connection_once(user, other_user):
    pinned = {"history_start": "2026-02-01"}
    fleet = [
        ConnectionFactory(owner=owner, name=f"Bank {i}", config=pinned)
        for i, owner in enumerate([user, other_user] * 3)
    ]
    ConnectionFactory(owner=user, name="Closed")
    Connection.objects.filter(name="Closed").update(status="disconnected")
    started = timezone.now()

    outcomes = run_worker(kinds=("accounts",), force=False, started_at=started)

    assert sorted(o.connection_id for o in outcomes) == sorted(c.pk for c in fleet)
    assert all(o.result.status == "succeeded" for o in outcomes)
    assert run_worker(kinds=("accounts",), force=False, started_at=timezone.now()) == []
    assert run_worker(kinds=("accounts",), force=True, started_at=started) == []  # nothing new since it started
    assert len(run_worker(kinds=("accounts",), force=True, started_at=timezone.now())) == len(fleet)
    # Transactions are a different kind: all still due.
    assert len(run_worker(kinds=("transactions",), force=False, started_at=timezone.now())) == len(fleet)


@pytest.mark.django_db
def test_fleet_claim_is_exclusive_and_expires(user, settings):
    connection = ConnectionFactory(owner=user)
    now = timezone.now()
    first = claim_next(("accounts",), force=False, started_at=now, worker="host-a:1")
    assert first.pk == connection.pk
    assert claim_next(("accounts",), force=False, started_at=now, worker="host-b:2") is None
    Connection.objects.filter(pk=connection.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert claim_next(("accounts",), force=False, started_at=now, worker="host-b:2").pk == connection.pk
    release(connection, "host-a:1")  # a stale worker cannot release a claim it lost
    assert Connection.objects.get(pk=connection.pk).claimed_by == "host-b:2"
    release(connection, "host-b:2")
    assert Connection.objects.get(pk=connection.pk).claimed_until is None


@pytest.mark.slow
@pytest.mark.postgres_only
@pytest.mark.timeout(300)
@pytest.mark.django_db
def test_three_fleet_commands_share_fifty_connections(live_database_url):
    """3 concurrent `sync all --all-connections --workers 2` over 50 demo connections."""
    env = {**os.environ, "DATABASE_URL": live_database_url, "FINSYNC_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY}

    def manage(*args, **kwargs):
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **kwargs,
        )

    assert manage("migrate", "-v", "0").wait(timeout=120) == 0
    setup = manage(
        "shell",
        "-v",
        "0",
        "-c",
        (
            "from django.contrib.auth.models import User\n"
            "from sync.services.connections import create_connection\n"
            "for u in range(5):\n"
            "    owner = User.objects.create_user(f'owner{u}')\n"
            "    for c in range(10):\n"
            "        create_connection(owner=owner, provider='demo', name=f'Bank {u}-{c}', options={'accounts': 3},\n"
            "                          actor=owner, source='cli')\n"
        ),
    )
    assert setup.wait(timeout=120) == 0, setup.stderr.read()

    commands = [manage("sync", "all", "--all-connections", "--workers", "2", "--format", "json") for _ in range(3)]
    results = [(c.wait(timeout=240), c.stdout.read(), c.stderr.read()) for c in commands]

    rows = []
    for code, out, err in results:
        assert code == 0, err
        assert out.startswith("[") and out.rstrip().endswith("]"), out[:300]
        rows += json.loads(out)
        assert err.count("] Bank ") == len({r["connection_id"] for r in json.loads(out)})  # a progress line each
    per_connection: dict[str, list[str]] = {}
    for row in rows:
        per_connection.setdefault(row["connection_id"], []).append(row["command"])
    assert len(per_connection) == 50
    assert all(commands == ["accounts", "transactions", "holdings"] for commands in per_connection.values())
    assert all(row["status"] == "succeeded" for row in rows)
    check = manage(
        "shell",
        "-v",
        "0",
        "-c",
        (
            "import json\n"
            "from django.db.models import Count\n"
            "from sync.models import SyncRun, Transaction, Connection\n"
            "dupes = Transaction.objects.values('account', 'provider_transaction_id').annotate(n=Count('pk'))"
            ".filter(n__gt=1).count()\n"
            "print(json.dumps({'runs': SyncRun.objects.filter(status='succeeded').count(),\n"
            "  'other_runs': SyncRun.objects.exclude(status='succeeded').count(), 'dupes': dupes,\n"
            "  'claimed': Connection.objects.exclude(claimed_until=None).count(),\n"
            "  'transactions': Transaction.objects.count()}))\n"
        ),
    )
    assert check.wait(timeout=60) == 0
    totals = json.loads(check.stdout.read())
    assert totals == {
        "runs": 150,
        "other_runs": 0,
        "dupes": 0,
        "claimed": 0,
        "transactions": sum(r["created"] for r in rows if r["command"] == "transactions"),
    }
