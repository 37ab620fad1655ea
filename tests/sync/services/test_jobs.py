"""The job engine: Procrastinate workers (real `manage.py procrastinate worker` processes) on PostgreSQL.

The workers run against the test database itself (transactional tests, so what a
test writes is committed and visible to them). Every wait is bounded and every
worker is killed in a `finally`.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from sync.models import Connection, SyncRun, Transaction
from sync.selectors import holdings_accounts
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.factories import ConnectionFactory
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake

ROOT = Path(__file__).resolve().parents[3]
SYNC_TASK = "finsync.sync_connection"


# --- helpers ----------------------------------------------------------------------------------------


def _database_url() -> str:
    s = db_connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def process_env(tmp_path):
    """The environment of a worker or command process: the test database, the test key, fast timings."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "FINSYNC_ENV_FILE": str(empty),
        "FINSYNC_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "FINSYNC_ALLOW_HTTP_PROVIDERS": "1",
        # The SimpleFIN fake listens on loopback, which user-supplied URLs may not reach otherwise.
        "FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS": "1",
        "FINSYNC_HTTP_MAX_RETRIES": "0",
        "FINSYNC_JOB_RETRY_BACKOFF_SECONDS": "1",
        "FINSYNC_WORKER_HEARTBEAT_SECONDS": "1",
        "FINSYNC_WORKER_STALLED_SECONDS": "3",
        # Stalled jobs are looked for every 2 seconds; the hourly schedule must not fire during a test.
        "FINSYNC_STALLED_JOBS_SCHEDULE": "* * * * * */2",
        "FINSYNC_SYNC_SCHEDULE": "0 0 1 1 *",
    }


@pytest.fixture
def clean_queue(transactional_db):
    """Procrastinate's tables are not Django-managed: the flush between tests leaves them, so empty them."""

    def empty():
        with db_connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
                "procrastinate_workers CASCADE"
            )

    empty()
    yield
    empty()


@pytest.fixture
def workers(process_env, clean_queue):
    """start(n): n worker processes; all are killed at the end of the test, whatever happens."""
    started: list[subprocess.Popen] = []

    def start(count: int = 1, concurrency: int = 1) -> list[subprocess.Popen]:
        new = [
            subprocess.Popen(
                [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", str(concurrency)],
                cwd=ROOT,
                env=process_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]
        started.extend(new)
        return new

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def wait_until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def jobs(task=SYNC_TASK):
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(task_name=task)


def queue_settled() -> bool:
    return jobs().exists() and not jobs().filter(status__in=("todo", "doing")).exists()


def defer(*kinds: str, source: str = "fleet") -> list[int]:
    from sync.services.jobs import defer_due

    return defer_due(kinds, source=source).job_ids


def no_duplicate_rows() -> bool:
    return not (
        Transaction.objects.values("account", "provider_transaction_id").annotate(n=Count("pk")).filter(n__gt=1)
    ).exists()


@pytest.fixture
def bank():
    fake = SimpleFINFake()
    fake.add_account("chk-001", "Everyday Checking", balance="1520.35")
    fake.add_transaction("chk-001", "t-100", posted=timezone.now().date(), amount="-54.20", description="GROCERY")
    with LiveServer(fake) as server:
        fake.root = server.url
        yield fake


@pytest.fixture
def simplefin_connection(user, bank, settings):
    from sync.services.connections import create_connection

    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = True
    return create_connection(
        owner=user,
        provider="simplefin",
        name="Credit union",
        options={"access_url": bank.access_url(bank.root)},
        actor=user,
        source="cli",
    )


def runs(connection, kind="accounts"):
    return list(SyncRun.objects.filter(connection=connection, kind=kind).order_by("started_at"))


# --- with real workers ------------------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_defer_commands_and_three_workers_sync_sixty_connections_once(user, other_user, workers, process_env):
    fleet = [
        ConnectionFactory(owner=owner, name=f"Bank {i}", options={"accounts": 2}, config={})
        for i, owner in enumerate([user, other_user] * 30)
    ]
    workers(3)
    commands = [
        subprocess.Popen(
            [sys.executable, "manage.py", "sync", "all", "--all-connections", "--defer", "--format", "json"],
            cwd=ROOT,
            env=process_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [c.communicate(timeout=120) for c in commands]
    assert [c.returncode for c in commands] == [0, 0], outputs
    deferred = [json.loads(out) for out, _ in outputs]
    assert len(deferred[0]) + len(deferred[1]) == 60 and not set(deferred[0]) & set(deferred[1])

    wait_until(queue_settled, timeout=240, what="the 60 jobs to finish")

    assert jobs().count() == 60 and set(jobs().values_list("status", flat=True)) == {"succeeded"}
    assert not SyncRun.objects.exclude(status="succeeded").exists()
    for connection in fleet:
        mine = list(SyncRun.objects.filter(connection=connection).order_by("started_at"))
        investments = holdings_accounts(connection.pk).count()
        assert [r.kind for r in mine] == ["accounts", "transactions"] + ["holdings"] * investments
        assert {r.source for r in mine} == {"fleet"}
        assert all(a.finished_at <= b.started_at for a, b in itertools.pairwise(mine))  # never overlapping
    created = sum(SyncRun.objects.filter(kind="transactions").values_list("created_count", flat=True))
    assert Transaction.objects.count() == created > 0
    assert no_duplicate_rows()


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_sync_leaves_a_job_that_is_retried(simplefin_connection, bank, workers):
    bank.fail_next(path="/accounts", sleep=6)  # the first fetch hangs: the worker is mid-sync
    (first,) = workers(1)
    (job_id,) = defer("accounts", "transactions")
    wait_until(lambda: SyncRun.objects.filter(status="running").exists(), timeout=60, what="the sync to start")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    workers(1)  # another host: its stalled-job task finds the dead worker's job and runs it again

    wait_until(
        lambda: jobs().filter(pk=job_id, status="succeeded").exists(), timeout=90, what="the retried job to succeed"
    )

    accounts_runs = runs(simplefin_connection)
    assert [(r.status, r.reason_code) for r in accounts_runs] == [("failed", "lease_expired"), ("succeeded", "")]
    assert [r.status for r in runs(simplefin_connection, "transactions")] == ["succeeded"]
    assert jobs().get(pk=job_id).attempts >= 2
    assert not SyncRun.objects.filter(status="running").exists()  # no claim left behind
    assert simplefin_connection.accounts.count() == 1 and Transaction.objects.count() == 1
    assert no_duplicate_rows()


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_provider_503_is_retried_then_succeeds(simplefin_connection, bank, workers):
    bank.fail_next(path="/accounts", status=503)
    workers(1)
    (job_id,) = defer("accounts")
    wait_until(lambda: jobs().filter(pk=job_id, status="succeeded").exists(), timeout=60, what="the retry")
    assert [(r.status, r.reason_code, r.source) for r in runs(simplefin_connection)] == [
        ("failed", "provider_unavailable", "fleet"),
        ("succeeded", "", "fleet"),
    ]
    assert jobs().get(pk=job_id).attempts == 2


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_429_is_not_retried_before_its_retry_after(simplefin_connection, bank, workers):
    bank.fail_next(path="/accounts", status=429, headers={"Retry-After": "5"})
    workers(1)
    (job_id,) = defer("accounts")
    wait_until(lambda: jobs().filter(pk=job_id, status="succeeded").exists(), timeout=60, what="the retry")
    failed, succeeded = runs(simplefin_connection)
    assert (failed.status, failed.reason_code, succeeded.status) == ("failed", "provider_rate_limited", "succeeded")
    # The backoff alone (1 s) would have retried sooner: Retry-After held it back.
    assert succeeded.started_at - failed.finished_at >= timedelta(seconds=4.9)


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_reauthentication_failure_is_not_retried(simplefin_connection, bank, workers):
    bank.fail_next(path="/accounts", status=403)
    workers(1)
    (job_id,) = defer("accounts")
    wait_until(lambda: jobs().filter(pk=job_id, status="failed").exists(), timeout=60, what="the job to fail")
    time.sleep(3)  # the backoff is 1 s: a retry would have run by now
    assert [(r.status, r.reason_code) for r in runs(simplefin_connection)] == [("failed", "reauth_required")]
    assert jobs().get(pk=job_id).attempts == 1
    assert Connection.objects.get(pk=simplefin_connection.pk).status == "needs_reauth"


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_webhook_request_is_deferred_and_served_once(demo_connection, workers):
    from sync.services.jobs import request_sync

    first = request_sync(demo_connection.pk)
    assert first is not None
    assert request_sync(demo_connection.pk) is None  # already waiting: that job serves both
    workers(1)
    wait_until(queue_settled, timeout=60, what="the webhook job")
    mine = SyncRun.objects.filter(connection=demo_connection)
    assert sorted(mine.values_list("kind", flat=True)) == sorted(
        ["accounts", "transactions"] + ["holdings"] * holdings_accounts(demo_connection.pk).count()
    )
    assert set(mine.values_list("source", "status")) == {("webhook", "succeeded")}
    assert Connection.objects.get(pk=demo_connection.pk).sync_requested_at is None
    assert jobs().count() == 1


# --- in this process --------------------------------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_schedule_defers_only_due_and_requested_connections(user):
    from procrastinate.contrib.django import app

    from sync.services.jobs import job_correlation_id, schedule_syncs

    never = ConnectionFactory(owner=user, name="Never synced")
    recent = ConnectionFactory(owner=user, name="Synced just now")
    requested = ConnectionFactory(owner=user, name="Synced, then a webhook")
    closed = ConnectionFactory(owner=user, name="Closed")
    for connection in (recent, requested):
        for kind in ("accounts", "transactions", "holdings"):
            SyncRun.objects.create(
                kind=kind, connection=connection, source="cli", status="succeeded", started_at=timezone.now()
            )
    Connection.objects.filter(pk=requested.pk).update(sync_requested_at=timezone.now())
    Connection.objects.filter(pk=closed.pk).update(status="disconnected")

    assert schedule_syncs(timestamp=0) == {"deferred": 2, "already_queued": 0}
    queued = list(jobs().order_by("id"))
    assert [j.args["connection_id"] for j in queued] == [str(requested.pk), str(never.pk)]  # requested first
    assert [(j.args["source"], j.args["force"]) for j in queued] == [("schedule", True), ("schedule", False)]
    assert {j.lock for j in queued} == {f"finsync-connection:{requested.pk}", f"finsync-connection:{never.pk}"}
    assert schedule_syncs(timestamp=1) == {"deferred": 0, "already_queued": 0}  # each waits once
    assert job_correlation_id(queued[0].id) == job_correlation_id(queued[0].id)
    crons = {p.periodic_id: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert crons["sync-schedule"] == "0 * * * *"


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_request_sync_defers_in_the_same_transaction(demo_connection):
    from sync.services.jobs import request_sync

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        assert request_sync(demo_connection.pk) is not None
        raise Abort
    assert not jobs().exists()  # the caller's rollback took the job with it
    assert Connection.objects.get(pk=demo_connection.pk).sync_requested_at is None

    job_id = request_sync(demo_connection.pk)
    job = jobs().get()
    assert job.id == job_id and job.args["source"] == "webhook" and job.queueing_lock == job.lock
    assert Connection.objects.get(pk=demo_connection.pk).sync_requested_at is not None


@pytest.mark.django_db
def test_request_sync_marks_the_connection_and_refuses_unknown_ones(demo_connection, is_postgres):
    import uuid

    from sync.errors import NotFound
    from sync.services.due import due_connections
    from sync.services.jobs import request_sync

    with pytest.raises(NotFound):
        request_sync(uuid.uuid4())
    result = request_sync(demo_connection.pk)
    assert (result is not None) == is_postgres  # SQLite: no job engine, the mark alone
    assert list(due_connections(["accounts"])) == [demo_connection]
    Connection.objects.filter(pk=demo_connection.pk).update(status="disconnected", sync_requested_at=None)
    with pytest.raises(NotFound):
        request_sync(demo_connection.pk)


@pytest.mark.django_db
def test_defer_without_a_job_engine_says_so(demo_connection, is_postgres):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    if is_postgres:
        call_command("sync", "accounts", "--all-connections", "--defer", stdout=out)
        assert out.getvalue().strip() == "1 sync jobs deferred"
        return
    with pytest.raises(CommandError) as raised:
        call_command("sync", "accounts", "--all-connections", "--defer", stdout=out)
    assert raised.value.returncode == 2
    assert "PostgreSQL" in str(raised.value) and "sync KIND --all-connections" in str(raised.value)


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_job_admin_links_a_job_to_its_connection_and_sync_runs(demo_connection, client):
    from django.contrib.auth.models import User

    from sync.services.jobs import job_correlation_id, request_sync

    job_id = request_sync(demo_connection.pk)
    client.force_login(User.objects.create_superuser("root", password="x"))
    page = client.get("/admin/procrastinate/procrastinatejob/").content.decode()
    assert f"/admin/sync/connection/{demo_connection.pk}/change/" in page
    assert f"/admin/sync/syncrun/?correlation_id={job_correlation_id(job_id)}" in page
    connection_page = client.get(f"/admin/sync/connection/{demo_connection.pk}/change/").content.decode()
    assert f"?lock=finsync-connection:{demo_connection.pk}" in connection_page and "1 sync jobs" in connection_page
    assert (
        client.get(f"/admin/procrastinate/procrastinatejob/?lock=finsync-connection:{demo_connection.pk}").status_code
        == 200
    )
