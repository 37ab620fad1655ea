"""Sync jobs on the job engine: Procrastinate, in the PostgreSQL FinSync already uses.

One task, `sync_connection_job`, syncs one connection (the kinds asked for, in the
order `sync all` uses) through the same handlers as every interface, with source
`schedule`, `webhook` or `fleet`. Jobs are deferred by the periodic schedule
(`FINSYNC_SYNC_SCHEDULE`), by `request_sync` (a provider's webhook) and by
`manage.py sync ... --all-connections --defer`; `manage.py procrastinate worker`
runs them on any number of hosts.

- A per-connection `lock`: two jobs of one connection never run at once (the
  handlers' claim, sync/services/runs.py, stays the last line of defence).
- A per-connection `queueing_lock`: a connection waits in the queue at most once.
- Retries with exponential backoff for `provider_unavailable` and
  `provider_rate_limited` (never before the provider's Retry-After); none for
  anything else (validation, not found, re-authentication, bad response...).
- A job's syncs share one correlation id derived from the job id, kept across
  its retries: the admin links a job to its sync runs by it, a retry skips the
  kinds an earlier attempt already synced, and a job retried after its worker
  died (Procrastinate's stalled jobs) releases its dead attempt's claim.

SQLite has no job engine: `jobs_enabled()` is false there and `request_sync` only
marks the connection (the in-process `sync --all-connections` serves it).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from procrastinate import BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from sync.audit import signals
from sync.errors import NotFound, SyncError
from sync.models import Connection, Source, SyncRun
from sync.services.connection_sync import sync_connection
from sync.services.due import clear_request, due_connections
from sync.services.runs import release_stalled_claims

if TYPE_CHECKING:
    from uuid import UUID

    from django.contrib.auth.models import AbstractBaseUser
    from procrastinate.jobs import Job


logger = logging.getLogger("finsync.jobs")

ALL_KINDS = ("accounts", "transactions", "holdings")
JOB_SOURCES = (Source.SCHEDULE, Source.WEBHOOK, Source.FLEET)
QUEUE = "sync"
LOCK_PREFIX = "finsync-connection:"
# A provider that is briefly down or asks us to slow down: worth another attempt later.
RETRIED_CODES = frozenset({"provider_unavailable", "provider_rate_limited"})
# Fixed namespace: a job's correlation id is the same in every process that computes it.
_CORRELATION_NAMESPACE = uuid.UUID("5b0f3c1e-8d7a-4a57-9b8e-0f6c2a9d4e11")


class JobsUnavailable(SyncError):
    """The database has no job engine (SQLite): sync in-process instead."""

    code = "jobs_unavailable"


def jobs_enabled() -> bool:
    """Whether the job engine is there: PostgreSQL with Procrastinate's app installed."""
    return bool(getattr(settings, "FINSYNC_JOBS_ENABLED", False)) and db_connection.vendor == "postgresql"


def connection_lock(connection_id: UUID | str) -> str:
    """The lock (and queueing lock) every sync job of this connection carries."""
    return f"{LOCK_PREFIX}{connection_id}"


def job_correlation_id(job_id: int) -> uuid.UUID:
    """The correlation id of every sync run and audit event of job `job_id`, in every attempt."""
    return uuid.uuid5(_CORRELATION_NAMESPACE, f"procrastinate-job:{job_id}")


# --- the task ---------------------------------------------------------------------------------------


class SyncJobFailed(Exception):
    """Some syncs of a job failed (each is recorded as a failed sync run); retried when `retryable`."""

    def __init__(self, codes: list[str], retry_after: int | None) -> None:
        super().__init__(f"syncs failed: {', '.join(codes)}")
        self.codes = codes
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return bool(self.codes) and set(self.codes) <= RETRIED_CODES


class SyncRetryStrategy(BaseRetryStrategy):
    """Retry provider outages and rate limits with exponential backoff, never before Retry-After."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, SyncJobFailed) or not exception.retryable:
            return None
        if job.attempts >= settings.FINSYNC_JOB_MAX_ATTEMPTS:
            return None
        wait = settings.FINSYNC_JOB_RETRY_BACKOFF_SECONDS * 2**job.attempts
        if exception.retry_after:
            wait = max(wait, exception.retry_after)
        return RetryDecision(retry_in={"seconds": wait})


@app.task(name="finsync.sync_connection", queue=QUEUE, pass_context=True, retry=SyncRetryStrategy())
def sync_connection_job(
    context: JobContext,
    *,
    connection_id: str,
    kinds: list[str],
    source: str,
    actor_id: int | None = None,
    force: bool = False,
) -> dict:
    """Sync one connection through the handlers; raise SyncJobFailed when a sync failed."""
    job_id = context.job.id
    correlation_id = job_correlation_id(job_id)
    if context.job.attempts:
        # An earlier attempt of this very job may have died mid-sync (worker killed, host
        # lost): its claim is released now instead of when its lease runs out.
        released = release_stalled_claims(correlation_id)
        if released:
            logger.warning("job %s: released %s claim(s) of a stopped attempt", job_id, released)
    started = timezone.now()
    owner_id = Connection.objects.filter(pk=connection_id).values_list("owner_id", flat=True).first()
    if owner_id is None:
        logger.warning("job %s: connection %s does not exist", job_id, connection_id)
        return {"connection_id": connection_id, "syncs": 0}
    clear_request(connection_id, before=started)
    done = _succeeded_kinds(correlation_id)
    outcomes = sync_connection(
        connection_id=uuid.UUID(str(connection_id)),
        user_id=actor_id or owner_id,
        kinds=tuple(k for k in ALL_KINDS if k in kinds and k not in done),
        force=force,
        source=source,
        correlation_id=correlation_id,
    )
    failed = [o.error for o in outcomes if o.failed]
    if failed:
        retry_after = max((e.retry_after or 0 for e in failed), default=0) or None
        raise SyncJobFailed([e.code for e in failed], retry_after)
    return {"connection_id": connection_id, "syncs": len(outcomes)}


def _succeeded_kinds(correlation_id: uuid.UUID) -> set[str]:
    """Kinds an earlier attempt of this job already synced (holdings: the gate skips what is done)."""
    runs = SyncRun.objects.filter(correlation_id=correlation_id, status=SyncRun.Status.SUCCEEDED)
    return set(runs.exclude(kind="holdings").values_list("kind", flat=True))


# --- deferring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deferred:
    """What a defer did: the new job ids, and how many due connections already had a job."""

    job_ids: list[int]
    already_queued: int


def _require_jobs() -> None:
    if not jobs_enabled():
        raise JobsUnavailable(
            "this database has no job engine (it needs PostgreSQL); "
            "run `manage.py sync KIND --all-connections` to sync in this process"
        )


def _active_job():
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(
        lock=Concat(Value(LOCK_PREFIX), Cast(OuterRef("pk"), CharField())),
        status__in=("todo", "doing"),
    )


def _defer_one(
    connection_id: UUID | str, *, kinds: Iterable[str], source: str, actor_id: int | None, force: bool
) -> int | None:
    """Defer a job for one connection, or None when one is already waiting (its queueing lock)."""
    lock = connection_lock(connection_id)
    try:
        # A savepoint: a refused defer (queueing lock) must not break the caller's transaction.
        with transaction.atomic():
            return sync_connection_job.configure(lock=lock, queueing_lock=lock).defer(
                connection_id=str(connection_id), kinds=list(kinds), source=source, actor_id=actor_id, force=force
            )
    except AlreadyEnqueued:
        return None


def defer_due(
    kinds: tuple[str, ...] = ALL_KINDS, *, source: str, force: bool = False, actor: AbstractBaseUser | None = None
) -> Deferred:
    """Defer one job per due connection (requested ones first) that has no job waiting or running.

    Each connection is re-checked under its row lock as it is deferred, so concurrent
    calls (two `--defer` commands, the schedule) defer it once, and a connection that
    was synced meanwhile is left alone.
    """
    _require_jobs()
    started_at = timezone.now()
    candidates = _due_without_job(kinds, force=force, started_at=started_at, actor=actor)
    job_ids, already = [], 0
    for pk in list(candidates.values_list("pk", flat=True)):
        with transaction.atomic():
            still = (
                _due_without_job(kinds, force=force, started_at=started_at, actor=actor)
                .filter(pk=pk)
                .select_for_update(of=("self",))
                .first()
            )
            if still is None:
                already += 1
                continue
            job_id = _defer_one(
                pk,
                kinds=kinds,
                source=source,
                actor_id=actor.pk if actor else None,
                force=force or still.sync_requested_at is not None,
            )
        if job_id is None:
            already += 1
        else:
            job_ids.append(job_id)
    return Deferred(job_ids, already)


def _due_without_job(
    kinds: Iterable[str], *, force: bool, started_at: datetime, actor: AbstractBaseUser | None
) -> QuerySet[Connection]:
    return due_connections(kinds, force=force, started_at=started_at, actor=actor).exclude(Exists(_active_job()))


def request_sync(
    connection: Connection, kinds: Iterable[str] = ALL_KINDS, *, source: str = Source.WEBHOOK, reason: str = ""
) -> int | None:
    """Mark the connection (or connection id) as wanting a sync of `kinds` and defer its job, in one transaction.

    The provider said there is new data (a webhook; `reason` names what it said).
    The mark and the job commit together, so a request is never lost and its job
    never runs before the mark is committed. A request bypasses the
    recently-synced gate once: the sync that serves it clears it
    (`due.clear_request`). Requests add up: a second request before the first is
    served adds its kinds and defers nothing more (the connection's queueing lock),
    so duplicate webhooks cause no duplicate work. Audited as
    `connection.sync_requested` with `source`, the kinds and the reason. Returns
    the job id, or None when the connection already has a job waiting (it will
    serve this request) or there is no job engine (SQLite: the next
    `sync --all-connections` serves it). NotFound for an unknown or disconnected connection.
    """
    connection_id = getattr(connection, "pk", connection)
    wanted = [k for k in ALL_KINDS if k in set(kinds)]
    with transaction.atomic():
        row = (
            Connection.objects.select_for_update()
            .filter(pk=connection_id)
            .exclude(status=Connection.Status.DISCONNECTED)
            .first()
        )
        if row is None:
            raise NotFound("connection not found")
        pending = set(row.sync_requested_kinds or []) if row.sync_requested_at else set()
        row.sync_requested_kinds = [k for k in ALL_KINDS if k in pending | set(wanted)]
        row.sync_requested_at = timezone.now()  # the latest request: a sync started before it does not serve it
        row.save(update_fields=["sync_requested_at", "sync_requested_kinds"])
        job_id = None
        if jobs_enabled():
            # Forced: the provider has new data, the recently-synced gate must not hold it back.
            job_id = _defer_one(connection_id, kinds=ALL_KINDS, source=source, actor_id=None, force=True)
    signals.connection_sync_requested.send(
        sender=Connection,
        connection=row,
        actor=None,
        source=source,
        correlation_id=uuid.uuid4(),
        payload={"kinds": wanted, "reason": reason[:100], "already_requested": bool(pending)},
    )
    return job_id


# --- periodic tasks (registered when the workers load this module) -----------------------------------


@app.periodic(cron=settings.FINSYNC_SYNC_SCHEDULE, periodic_id="sync-schedule")
@app.task(name="finsync.schedule_syncs", queue=QUEUE, queueing_lock="finsync-schedule")
def schedule_syncs(timestamp: int) -> dict:
    """Defer a job for every due and every requested connection (source `schedule`)."""
    deferred = defer_due(ALL_KINDS, source=Source.SCHEDULE)
    logger.info("schedule at %s: %s jobs deferred", timestamp, len(deferred.job_ids))
    return {"deferred": len(deferred.job_ids), "already_queued": deferred.already_queued}


@app.periodic(cron=settings.FINSYNC_STALLED_JOBS_SCHEDULE, periodic_id="retry-stalled")
@app.task(name="finsync.retry_stalled_jobs", queue=QUEUE, queueing_lock="finsync-retry-stalled")
async def retry_stalled_jobs(timestamp: int) -> int:
    """Put back in the queue the jobs whose worker stopped sending heartbeats (killed, host lost)."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.FINSYNC_WORKER_STALLED_SECONDS)
    for job in stalled:
        logger.warning("job %s (%s) stalled: its worker stopped; retrying it", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)
