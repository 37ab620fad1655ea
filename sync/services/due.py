"""Which connections are due for a sync, and the in-process run over them.

A connection is due when it is not disconnected and either a sync was requested
for it (`Connection.sync_requested_at`, set by `request_sync` when a provider's
webhook says there is new data) or it has no sync run of the asked kinds since
the cutoff: the start of the command with --force, else the recently-synced
cutoff (sync/services/gate.py, the gate's one home) or the command's start,
whichever is earlier. Requested connections come first, then the longest unsynced.

The job engine (sync/services/jobs.py) defers a job per due connection; without
it (SQLite, a single machine) `sync --all-connections` syncs them here, one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from sync import selectors
from sync.models import Connection, SyncRun
from sync.progress import Progress
from sync.services.connection_sync import SyncOutcome, sync_connection
from sync.services.gate import recently_synced_cutoff

if TYPE_CHECKING:
    from uuid import UUID

    from django.contrib.auth.models import AbstractBaseUser


def due_connections(
    kinds: Iterable[str],
    *,
    force: bool = False,
    started_at: datetime | None = None,
    actor: AbstractBaseUser | None = None,
) -> QuerySet[Connection]:
    """Connections due for `kinds` (see the module docstring), requested first, then oldest sync first."""
    kinds = list(kinds)
    now = timezone.now()
    started_at = started_at or now
    cutoff = started_at if force else min(started_at, recently_synced_cutoff(now))
    attempted = SyncRun.objects.filter(connection=OuterRef("pk"), kind__in=kinds, started_at__gte=cutoff)
    base = selectors.syncable_connections(actor) if actor is not None else Connection.objects.all()
    oldest = "accounts_synced_at" if kinds == ["accounts"] else "transactions_synced_at"
    return (
        base.exclude(status=Connection.Status.DISCONNECTED)
        .filter(Q(sync_requested_at__isnull=False) | ~Exists(attempted))
        .order_by(F("sync_requested_at").asc(nulls_last=True), F(oldest).asc(nulls_first=True), "created_at", "pk")
    )


def clear_request(connection_id: UUID | str, *, before: datetime) -> None:
    """A sync of the connection started at `before`: requests made until then are served."""
    Connection.objects.filter(pk=connection_id, sync_requested_at__lte=before).update(
        sync_requested_at=None, sync_requested_kinds=[]
    )


def sync_due_in_process(
    *,
    kinds: tuple[str, ...],
    force: bool,
    actor: AbstractBaseUser | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    source: str = "cli",
    on_connection: Callable[[Connection, list[SyncOutcome]], None] | None = None,
    on_not_due: Callable[[int], None] | None = None,
    progress: Progress | None = None,
) -> list[SyncOutcome]:
    """Sync every due connection in this process, one after another; returns every outcome.

    `on_connection` hears each connection's outcomes as they come; `on_not_due`, once,
    before any sync, how many connections (of the actor's, not disconnected) are not
    due, so that the caller can say that forcing would sync them too; `progress`: see
    `sync_connection`.

    Several such commands at once are safe but not shared out: the handlers' claim
    keeps two syncs of one connection apart and the gate skips what was just synced.
    """
    started_at = timezone.now()
    outcomes: list[SyncOutcome] = []
    due = list(due_connections(kinds, force=force, started_at=started_at, actor=actor))
    if on_not_due is not None:
        base = selectors.syncable_connections(actor) if actor is not None else Connection.objects.all()
        on_not_due(base.exclude(status=Connection.Status.DISCONNECTED).count() - len(due))
    for connection in due:
        requested = connection.sync_requested_at is not None
        begun = timezone.now()
        results = sync_connection(
            connection_id=connection.pk,
            user_id=actor.pk if actor else connection.owner_id,
            kinds=kinds,
            # A requested sync means the provider has new data: the gate must not hold it back.
            force=force or requested,
            start_date=start_date,
            end_date=end_date,
            source=source,
            progress=progress,
        )
        if requested:
            clear_request(connection.pk, before=begun)
        outcomes += results
        if on_connection is not None:
            on_connection(connection, results)
    return outcomes
