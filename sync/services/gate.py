"""The recently-synced gate: one home for "was this synced too recently to sync again?".

The handlers skip a sync whose kind succeeded within FINSYNC_MIN_SYNC_INTERVAL
(unless forced); the fleet's "due" query leaves out connections attempted since
the same cutoff. Both ask this module, so the two never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince

RECENTLY_SYNCED = "recently_synced"
# The skips of statement-file connections (sync.services.handlers): a file imported
# already, and a sync asked of a connection whose data comes only from files.
ALREADY_IMPORTED = "already_imported"
IMPORTS_FILES = "imports_files"


def recently_synced_cutoff(now: datetime | None = None) -> datetime:
    """The moment before which a last sync no longer counts as recent."""
    return (now or timezone.now()) - timedelta(seconds=settings.FINSYNC_MIN_SYNC_INTERVAL)


def recently_synced(last_success: datetime | None, *, force: bool, now: datetime | None = None) -> str:
    """A skip message when `last_success` is after the cutoff (and not forced), else ''."""
    if force or last_success is None:
        return ""
    now = now or timezone.now()
    if last_success <= recently_synced_cutoff(now):
        return ""
    ago = "less than a minute" if now - last_success < timedelta(minutes=1) else timesince(last_success, now)
    return f"synced {ago} ago (use force to sync again)"
