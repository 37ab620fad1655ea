"""One sync per connection under real concurrency; the in-process run over the due connections.

The job engine's workers (several processes) are tested in tests/sync/test_jobs.py."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from sync import errors
from sync.models import Connection, SyncRun, Transaction
from sync.services.due import sync_due_in_process
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
def test_in_process_run_syncs_each_due_connection_once(user, other_user):
    pinned = {"history_start": "2026-02-01"}
    fleet = [
        ConnectionFactory(owner=owner, name=f"Bank {i}", config=pinned)
        for i, owner in enumerate([user, other_user] * 3)
    ]
    ConnectionFactory(owner=user, name="Closed")
    Connection.objects.filter(name="Closed").update(status="disconnected")

    def run(kinds, force=False):
        return sync_due_in_process(kinds=kinds, force=force)

    outcomes = run(("accounts",))

    assert sorted(o.connection_id for o in outcomes) == sorted(c.pk for c in fleet)
    assert all(o.result.status == "succeeded" for o in outcomes)
    assert run(("accounts",)) == []  # nothing is due any more
    assert len(run(("accounts",), force=True)) == len(fleet)
    # Transactions are a different kind: all still due.
    assert len(run(("transactions",))) == len(fleet)
    # A requested connection is due (and synced, past the gate) even though it was just synced.
    Connection.objects.filter(pk=fleet[2].pk).update(sync_requested_at=timezone.now())
    requested = run(("accounts",))
    assert [(o.connection_id, o.result.status) for o in requested] == [(fleet[2].pk, "succeeded")]
    assert Connection.objects.get(pk=fleet[2].pk).sync_requested_at is None
