"""Transaction spans: the digests of what a window provider sent, kept so that a re-sync skips what did not change.

A span is an account's rows over [first, last] as the provider sent them
(providers.base.TransactionSpan). The apply stores the spans it applied, in the
same database transaction as their rows, and replaces an account's spans on
every transactions apply of that account. The next fetch gets them as
`known_spans`; the adapter hands an unchanged span over as its ids, without
mapping its rows, and the apply counts those rows as unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from django.conf import settings

from providers.base import TransactionSpan
from sync.models import Account, Connection
from sync.models import TransactionSpan as StoredSpan


class StaleSpans(Exception):
    """An unchanged span cannot be applied as it is (e.g. one of its ids also came in another page).

    Raised inside the data transaction, which rolls back; the handler then
    fetches again without `known_spans`, so that every row is mapped.
    """


def enabled() -> bool:
    return bool(getattr(settings, "FINSYNC_TRANSACTION_SPANS", True))


def known_spans(connection: Connection, account: Account | None = None) -> dict[tuple[str, date, date], str]:
    """{(provider account id, first, last): digest} of the stored spans of a connection (or of one account)."""
    spans = StoredSpan.objects.filter(account__connection=connection)
    if account is not None:
        spans = spans.filter(account=account)
    rows = spans.values_list("account__provider_account_id", "first_date", "last_date", "digest")
    return {(account_id, first, last): digest for account_id, first, last, digest in rows}


def replace_spans(account: Account, spans: Iterable[tuple[TransactionSpan, int]], now: datetime) -> None:
    """The account's stored spans become `spans` ((span, rows) pairs): called by every transactions apply of it.

    A span stored as it is stays, with its `synced_at`: an unchanged re-sync writes nothing.
    """
    wanted = {(span.first, span.last, span.digest, rows) for span, rows in spans}
    stored = {
        (first, last, digest, rows): pk
        for first, last, digest, rows, pk in StoredSpan.objects.filter(account=account).values_list(
            "first_date", "last_date", "digest", "rows", "pk"
        )
    }
    stale = [pk for key, pk in stored.items() if key not in wanted]
    if stale:
        StoredSpan.objects.filter(pk__in=stale).delete()
    StoredSpan.objects.bulk_create(
        StoredSpan(account=account, first_date=first, last_date=last, digest=digest, rows=rows, synced_at=now)
        for first, last, digest, rows in sorted(wanted - set(stored))
    )
