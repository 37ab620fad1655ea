"""The life of a SyncRun: recording attempts, claiming a connection, finishing.

A `running` SyncRun *is* the connection's claim: a partial unique constraint
allows one per connection, on PostgreSQL and SQLite alike. A claim carries a
lease; a crashed process's claim is failed and replaced once the lease expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sync.audit import signals
from sync.errors import SyncError, SyncInProgress
from sync.models import Account, Connection, SyncRun
from sync.progress import ProgressCounter
from sync.results import Counts


@dataclass(kw_only=True)
class Attempt:
    """Who asked for which sync, and from where; shared by a sync's run and events."""

    kind: str
    actor: object | None
    source: str
    correlation_id: UUID
    force: bool = False
    connection: Connection | None = None
    account: Account | None = None
    window_start: date | None = None
    window_end: date | None = None
    last_success: datetime | None = None  # of this kind, on this target: what the recently-synced gate reads
    run: SyncRun | None = None  # the claim, once taken
    details: dict | None = None  # more of what was asked, for every event (a statement file's name, size, SHA-256)
    progress: ProgressCounter | None = None  # the caller's progress display, when it has one

    def emit(self, outcome: str, sync_run: SyncRun | None, payload: dict) -> None:
        signals.SYNC_SIGNALS[outcome].send(
            sender=SyncRun,
            kind=self.kind,
            sync_run=sync_run,
            actor=self.actor,
            source=self.source,
            correlation_id=self.correlation_id,
            connection=self.connection,
            account=self.account,
            payload=payload,
        )

    def base_payload(self) -> dict:
        payload = {"force": self.force, **(self.details or {})}
        if self.window_start is not None:
            payload["window"] = [self.window_start.isoformat(), self.window_end.isoformat()]
        return payload

    def _run_fields(self) -> dict:
        return {
            "kind": self.kind,
            "connection": self.connection,
            "account": self.account,
            "actor": self.actor,
            # Denormalised, so the run still says what it was about once they are gone.
            "connection_label": str(self.connection)[:300] if self.connection is not None else "",
            "account_label": str(self.account)[:300] if self.account is not None else "",
            "actor_label": self.actor.get_username()[:255] if self.actor is not None else "",
            "source": self.source,
            "correlation_id": self.correlation_id,
            "force": self.force,
            "window_start": self.window_start,
            "window_end": self.window_end,
        }

    def record_failure(self, error: SyncError, run: SyncRun | None = None) -> SyncRun:
        """Record a failed attempt (finishing `run` if it was claimed) and emit `failed`."""
        now = timezone.now()
        if run is None:
            run = SyncRun.objects.create(**self._run_fields(), status=SyncRun.Status.FAILED, started_at=now)
        run.status = SyncRun.Status.FAILED
        run.reason_code = error.code
        run.message = error.message[:2000]
        run.finished_at = now
        run.lease_expires_at = None
        run.save(update_fields=["status", "reason_code", "message", "finished_at", "lease_expires_at"])
        error.sync_run_id = run.pk
        payload = self.base_payload() | {"reason": error.code, "message": run.message}
        if error.retry_after is not None:
            payload["retry_after"] = error.retry_after
        self.emit("failed", run, payload)
        return run

    def record_skip(self, reason: str, message: str) -> SyncRun:
        now = timezone.now()
        run = SyncRun.objects.create(
            **self._run_fields(),
            status=SyncRun.Status.SKIPPED,
            reason_code=reason,
            message=message,
            started_at=now,
            finished_at=now,
        )
        self.emit("skipped", run, self.base_payload() | {"reason": reason, "message": message})
        return run

    def claim(self) -> SyncRun:
        """Take the connection's claim or fail fast with SyncInProgress."""
        now = timezone.now()
        lease = timedelta(seconds=settings.FINSYNC_SYNC_LEASE_SECONDS)
        with transaction.atomic():
            SyncRun.objects.filter(
                connection=self.connection, status=SyncRun.Status.RUNNING, lease_expires_at__lt=now
            ).update(
                status=SyncRun.Status.FAILED,
                reason_code="lease_expired",
                message="the process running this sync stopped before finishing",
                finished_at=now,
                lease_expires_at=None,
            )
        try:
            with transaction.atomic():
                self.run = SyncRun.objects.create(
                    **self._run_fields(),
                    status=SyncRun.Status.RUNNING,
                    started_at=now,
                    lease_expires_at=now + lease,
                )
                return self.run
        except IntegrityError:
            raise SyncInProgress("another sync of this connection is running; try again when it finishes") from None

    def finish(self, run: SyncRun, counts: Counts, warnings: list[str]) -> None:
        """Mark `run` succeeded; called inside the data transaction so both commit together."""
        run.status = SyncRun.Status.SUCCEEDED
        run.created_count = counts.created
        run.updated_count = counts.updated
        run.unchanged_count = counts.unchanged
        run.removed_count = counts.removed
        run.warnings = warnings
        run.message = "; ".join(warnings)[:2000]
        run.reason_code = "partial_errors" if warnings else ""
        run.finished_at = timezone.now()
        run.lease_expires_at = None
        run.save()


def release_stalled_claims(correlation_id: UUID) -> int:
    """Fail the `running` runs of `correlation_id` (one sync job): its previous attempt's process died.

    Called when the job engine runs a job again after its worker stopped sending
    heartbeats, so the retry need not wait for the lease to expire; returns how many.
    """
    now = timezone.now()
    return SyncRun.objects.filter(correlation_id=correlation_id, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        reason_code="lease_expired",
        message="the worker running this sync stopped before finishing",
        finished_at=now,
        lease_expires_at=None,
    )


def with_durations(rows: list[dict]) -> list[dict]:
    """`rows` (result rows, as `SyncOutcome.as_dict()` gives them), each with its run's `duration_seconds`.

    The duration is the run's started_at -> finished_at in seconds (null when the
    row has no run or the run has not finished); one query for all the rows.
    """
    ids = {row["sync_run_id"] for row in rows if row.get("sync_run_id")}
    times = {
        str(pk): (started, finished)
        for pk, started, finished in SyncRun.objects.filter(pk__in=ids).values_list("pk", "started_at", "finished_at")
    }
    for row in rows:
        started, finished = times.get(str(row.get("sync_run_id")), (None, None))
        row["duration_seconds"] = (
            round((finished - started).total_seconds(), 3) if started is not None and finished is not None else None
        )
    return rows
