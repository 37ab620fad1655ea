"""Fleet sync: `sync ... --all-connections` shared by any number of workers and hosts.

A worker repeatedly claims the connection that is due and synced longest ago,
syncs it (accounts, transactions, holdings as asked) and releases it. On
PostgreSQL the candidate row is locked with `SELECT ... FOR UPDATE SKIP LOCKED`,
so concurrent workers pass over each other's candidates instead of queueing;
on every database the claim itself is a conditional UPDATE of
`claimed_until` (a lease), so exactly one worker wins and a crashed worker's
claim expires. A connection is due when it has no sync run of the requested
kinds since the cutoff: the start of this command with --force, else the
recently-synced interval (or the command's start, whichever is earlier).
Hence every due connection is synced once per fleet run, whoever runs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from sync import selectors
from sync.models import Connection, SyncRun
from sync.services.connection_sync import SyncOutcome, sync_connection
from sync.services.gate import recently_synced_cutoff

CLAIM_ATTEMPTS = 50


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def due_connections(kinds: Iterable[str], *, force: bool, started_at: datetime, actor=None) -> QuerySet[Connection]:
    """Connections not disconnected, not claimed, with no run of `kinds` since the cutoff; oldest sync first."""
    kinds = list(kinds)
    now = timezone.now()
    cutoff = started_at if force else min(started_at, recently_synced_cutoff(now))
    attempted = SyncRun.objects.filter(connection=OuterRef("pk"), kind__in=kinds, started_at__gte=cutoff)
    base = selectors.syncable_connections(actor) if actor is not None else Connection.objects.all()
    oldest = "accounts_synced_at" if kinds == ["accounts"] else "transactions_synced_at"
    return (
        base.exclude(status=Connection.Status.DISCONNECTED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(Exists(attempted))
        .order_by(F(oldest).asc(nulls_first=True), "created_at", "pk")
    )


def claim_next(
    kinds, *, force: bool, started_at: datetime, worker: str, actor=None, exclude: Iterable = ()
) -> Connection | None:
    """Claim the next due connection for `worker`, or None when nothing is left."""
    lease = timedelta(seconds=settings.FINSYNC_SYNC_LEASE_SECONDS)
    for _ in range(CLAIM_ATTEMPTS):
        with transaction.atomic():
            candidates = due_connections(kinds, force=force, started_at=started_at, actor=actor).exclude(
                pk__in=list(exclude)
            )
            if db_connection.vendor == "postgresql":
                candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            candidate = candidates.first()
            if candidate is None:
                return None
            now = timezone.now()
            won = (
                Connection.objects.filter(pk=candidate.pk)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .update(claimed_by=worker, claimed_until=now + lease)
            )
        if won:
            return candidate
    return None


def release(connection: Connection, worker: str) -> None:
    Connection.objects.filter(pk=connection.pk, claimed_by=worker).update(claimed_by="", claimed_until=None)


def run_worker(
    *,
    kinds: tuple[str, ...],
    force: bool,
    started_at: datetime,
    actor=None,
    start_date=None,
    end_date=None,
    source: str = "cli",
    worker: str | None = None,
    on_connection: Callable[[Connection, list[SyncOutcome]], None] | None = None,
) -> list[SyncOutcome]:
    """Claim, sync and release connections until none is due; returns every outcome."""
    worker = worker or worker_label()
    done: set = set()
    outcomes: list[SyncOutcome] = []
    while True:
        connection = claim_next(kinds, force=force, started_at=started_at, worker=worker, actor=actor, exclude=done)
        if connection is None:
            return outcomes
        done.add(connection.pk)
        try:
            results = sync_connection(
                connection_id=connection.pk,
                user_id=actor.pk if actor else connection.owner_id,
                kinds=kinds,
                force=force,
                start_date=start_date,
                end_date=end_date,
                source=source,
            )
        finally:
            release(connection, worker)
        outcomes += results
        if on_connection is not None:
            on_connection(connection, results)


# --- several worker processes on this host -------------------------------------------------------


@dataclass(frozen=True)
class ConnectionReport:
    """What a worker reports after syncing one connection: which one, and the outcome rows."""

    connection_id: str
    name: str
    provider: str
    rows: list[dict]

    def to_line(self) -> str:
        return json.dumps(
            {"connection_id": self.connection_id, "name": self.name, "provider": self.provider, "rows": self.rows}
        )

    @classmethod
    def of(cls, connection: Connection, outcomes: list[SyncOutcome]) -> ConnectionReport:
        return cls(str(connection.pk), connection.name, connection.provider, [o.as_dict() for o in outcomes])


class WorkerProcessesFailed(Exception):
    """Some worker processes exited with an error; their connections' outcomes may be missing."""


def run_worker_processes(argv: list[str], workers: int, on_report: Callable[[ConnectionReport], None]) -> list[dict]:
    """Start `workers` copies of `argv` (a worker that prints one ConnectionReport line per connection)
    and collect their rows; `on_report` is called for each line, one at a time, as it arrives.
    """
    processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(workers)]  # noqa: S603 (our own manage.py)
    rows: list[dict] = []
    lock = threading.Lock()

    def read(process: subprocess.Popen) -> None:
        for line in process.stdout:
            if not line.strip():
                continue
            report = ConnectionReport(**json.loads(line))
            with lock:
                rows.extend(report.rows)
                on_report(report)

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in processes]
    for reader in readers:
        reader.start()
    codes = [process.wait() for process in processes]
    for reader in readers:
        reader.join()
    broken = [code for code in codes if code != 0]
    if broken:
        raise WorkerProcessesFailed(f"{len(broken)} of {workers} worker processes failed (exit {broken})")
    return rows
