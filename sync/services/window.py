"""The transactions window: which days a window sync covers, and what is refused."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from sync.errors import ValidationError

EARLIEST_DATE = date(1970, 1, 1)  # providers speak epoch seconds; nothing bank-held is older


def transactions_window(start: date | None, end: date | None) -> tuple[date, date]:
    """The window a transactions sync covers, both ends inclusive; ValidationError when invalid.

    Default: the last FINSYNC_DEFAULT_SYNC_DAYS days ending today; at most
    FINSYNC_MAX_SYNC_DAYS days.
    """
    today = timezone.localdate()
    end = end or today
    if end < EARLIEST_DATE or end > today + timedelta(days=366):
        raise ValidationError(
            "end_date is out of range", fields={"end_date": ["must be between 1970-01-01 and a year from today"]}
        )
    start = start or end - timedelta(days=settings.FINSYNC_DEFAULT_SYNC_DAYS - 1)
    if start < EARLIEST_DATE:
        raise ValidationError("start_date is out of range", fields={"start_date": ["must not be before 1970-01-01"]})
    if start > end:
        raise ValidationError("start_date is after end_date", fields={"start_date": ["must not be after end_date"]})
    days = (end - start).days + 1
    if days > settings.FINSYNC_MAX_SYNC_DAYS:
        message = f"the window is {days} days; at most {settings.FINSYNC_MAX_SYNC_DAYS} are allowed"
        raise ValidationError(message, fields={"start_date": [message]})
    return start, end
