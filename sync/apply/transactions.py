"""The transactions apply: provider rows to stored rows, as plain values, in batches.

Transactions, the bulk of the data, skip model instances altogether: they are
fetched into a `TransactionSpool` on disk outside the transaction, then
streamed per account in batches of SPOOL_ROWS_PER_STEP (read as plain values, inserted
with COPY on PostgreSQL and executemany elsewhere, updated with executemany),
so memory holds one batch plus one id per row of the account being applied.
Rows of unchanged spans (sync.apply.spans) are counted, not read. Then rows that
vanished are soft-removed and pending rows are matched to the posted rows
that replace them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from providers.base import TransactionsResult, supersedes
from sync.apply.normalize import TRANSACTION_SYNCED_FIELDS
from sync.apply.spans import StaleSpans, replace_spans
from sync.apply.spool import TransactionSpool, spool_transactions
from sync.apply.sql import ROWS_PER_STATEMENT, bulk_insert, bulk_update, new_ids
from sync.errors import ProviderBadResponse
from sync.models import Account, Transaction
from sync.progress import ProgressCounter
from sync.results import Counts

ID_CHUNK = 5000  # ids per `IN (...)` lookup; well under SQLite's (32766) and PostgreSQL's (65535) limits
SPOOL_ROWS_PER_STEP = 5000  # transactions read from the spool, looked up and written together
ARRAY_CHUNK = 20000  # ids per `= ANY(array)` lookup on PostgreSQL (one parameter)
PENDING_MATCH_DAYS = 7  # a vanished pending row matches a posted one this close in date


class _Row:
    """A transaction as plain values (cheaper than a model instance): stored, or about to be inserted.

    `values` follows TRANSACTION_SYNCED_FIELDS.
    """

    __slots__ = ("adding", "category", "notes", "pk", "provider_id", "replaces_id", "values")

    def __init__(
        self,
        pk: uuid.UUID,
        provider_id: str,
        values: tuple,
        *,
        category: str = "",
        notes: str = "",
        adding: bool = False,
    ) -> None:
        self.pk = pk
        self.provider_id = provider_id
        self.values = values
        self.category = category
        self.notes = notes
        self.replaces_id = None
        self.adding = adding

    @property
    def pending(self) -> bool:
        return self.values[_STATUS] == Transaction.Status.PENDING

    @property
    def posted_date(self) -> date:
        return self.values[_POSTED_DATE]

    @property
    def amount(self) -> Decimal:
        return self.values[_AMOUNT]

    @property
    def is_removed(self) -> bool:
        return self.values[_IS_REMOVED]


_STATUS = TRANSACTION_SYNCED_FIELDS.index("status")
_POSTED_DATE = TRANSACTION_SYNCED_FIELDS.index("posted_date")
_AMOUNT = TRANSACTION_SYNCED_FIELDS.index("amount")
_IS_REMOVED = TRANSACTION_SYNCED_FIELDS.index("is_removed")  # removed_at follows it: see _remove
_ROW_FIELDS = ("pk", "provider_transaction_id", *TRANSACTION_SYNCED_FIELDS, "category", "notes")
TRANSACTION_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "account_id",
    "provider_transaction_id",
    *TRANSACTION_SYNCED_FIELDS,
    "category",
    "notes",
    "replaces_id",
)


def _load(queryset: QuerySet[Transaction], into: dict[str, _Row]) -> None:
    width = len(TRANSACTION_SYNCED_FIELDS)
    for pk, provider_id, *rest in queryset.values_list(*_ROW_FIELDS):
        into[provider_id] = _Row(pk, provider_id, tuple(rest[:width]), category=rest[width], notes=rest[width + 1])


def _load_by_ids(account: Account, ids: Iterable[str], into: dict[str, _Row]) -> None:
    missing = [i for i in ids if i not in into]
    postgres = connection.vendor == "postgresql"
    size = ARRAY_CHUNK if postgres else ID_CHUNK
    for start in range(0, len(missing), size):
        chunk = missing[start : start + size]
        rows = Transaction.objects.filter(account=account)
        if postgres:
            # One array parameter, not thousands of IN literals to bind and plan.
            rows = rows.filter(RawSQL("provider_transaction_id = ANY(%s)", (chunk,), output_field=BooleanField()))
        else:
            rows = rows.filter(provider_transaction_id__in=chunk)
        _load(rows, into)


def _replaced_ids(pending_pks: list) -> set:
    """Which of these pending rows some posted row already replaces."""
    found: set = set()
    for start in range(0, len(pending_pks), ID_CHUNK):
        chunk = pending_pks[start : start + ID_CHUNK]
        found.update(Transaction.objects.filter(replaces__in=chunk).values_list("replaces_id", flat=True))
    return found


def _remove(row: _Row, now: datetime, counts: Counts, updated: dict) -> None:
    if not row.is_removed:
        row.values = (*row.values[:_IS_REMOVED], True, now)
        updated[row.pk] = row
        counts.removed += 1


def apply_transactions(
    accounts_by_pid: dict[str, Account], result: TransactionsResult, *, window: tuple[date, date] | None, now: datetime
) -> Counts:
    """Upsert `result` (window or cursor mode) for the given accounts and retire what vanished."""
    spool = spool_transactions([result])
    try:
        return apply_spooled_transactions(accounts_by_pid, spool, window=window, now=now)
    finally:
        spool.close()


def apply_spooled_transactions(
    accounts_by_pid: dict[str, Account],
    spool: TransactionSpool,
    *,
    window: tuple[date, date] | None,
    now: datetime,
    progress: ProgressCounter | None = None,
) -> Counts:
    """Apply a spool (window or cursor mode) to the given accounts, account by account, in batches.

    `progress` hears of each step's rows (and of each account's unchanged-span rows) as they are applied.
    """
    counts = Counts()
    for provider_account_id in sorted(spool.account_ids()):
        if provider_account_id not in accounts_by_pid:
            raise ProviderBadResponse(
                f"transaction {spool.first_id(provider_account_id)} belongs to unknown account {provider_account_id}"
            )
    removed_ids = {pid: ids for pid, ids in spool.removed.items() if pid in accounts_by_pid}
    scope = spool.account_ids() | set(removed_ids)
    if window is not None:
        scope |= {pid for pid in spool.accounts_covered if pid in accounts_by_pid}
    for provider_account_id in sorted(scope):
        _apply_account_transactions(
            accounts_by_pid[provider_account_id],
            spool,
            provider_account_id,
            removed_ids.get(provider_account_id, []),
            window=window,
            now=now,
            counts=counts,
            progress=progress,
        )
    return counts


class _Versions(NamedTuple):
    """Which spooled version of each id applies (by position in the spool), and what the rows link to."""

    position: dict[str, int]  # id -> the position of the version that applies
    pending: set[str]  # ids whose applying version is pending
    links: set[str]  # pending ids that some row says it replaces
    repeated: bool  # some id came more than once


def _chosen_versions(spool: TransactionSpool, provider_account_id: str) -> _Versions:
    """The last version of an id wins, except that a pending version never replaces a posted one (`supersedes`)."""
    position: dict[str, int] = {}
    pending_ids: set[str] = set()
    links: set[str] = set()
    repeated = False
    for index, (provider_id, _, pending, link) in enumerate(spool.rows(provider_account_id)):
        known = position.get(provider_id)
        if known is None or supersedes(provider_id in pending_ids, pending):
            position[provider_id] = index
            if pending:
                pending_ids.add(provider_id)
            else:
                pending_ids.discard(provider_id)
        repeated = repeated or known is not None
        if link:
            links.add(link)
    return _Versions(position, pending_ids, links, repeated)


def _unchanged_ids(spool: TransactionSpool, provider_account_id: str, chosen: dict[str, int]) -> set[str]:
    """The ids of the account's unchanged spans; StaleSpans when one of them came twice."""
    ids = set(spool.unchanged_ids(provider_account_id))
    expected = sum(rows for _, rows, unchanged in spool.spans.get(provider_account_id, ()) if unchanged)
    if len(ids) != expected or not ids.isdisjoint(chosen):
        raise StaleSpans(f"an unchanged span of account {provider_account_id} shares ids with other rows")
    return ids


def _vanished_ids(in_window: QuerySet[Transaction], chosen: dict[str, int], unchanged: set[str]) -> list[str]:
    """Stored rows of the window that the provider no longer sends; StaleSpans when an unchanged span's row is gone.

    When every row the window holds belongs to an unchanged span, nothing
    vanished and the rows need not be read (one count query instead).
    """
    if not chosen and unchanged and _count_present(in_window, len(unchanged)) == len(unchanged):
        return []
    vanished: list[str] = []
    present = 0  # rows of unchanged spans found stored, as they must all be
    stored = in_window.values_list("provider_transaction_id", "is_removed")
    for pid, is_removed in stored.iterator(ROWS_PER_STATEMENT):
        if pid in unchanged:
            present += not is_removed
        elif pid not in chosen and not is_removed:
            vanished.append(pid)
    if present != len(unchanged):
        raise StaleSpans("rows of an unchanged span are missing or removed")
    return vanished


def _apply_account_transactions(
    account: Account,
    spool: TransactionSpool,
    provider_account_id: str,
    removed: list[str],
    *,
    window: tuple[date, date] | None,
    now: datetime,
    counts: Counts,
    progress: ProgressCounter | None = None,
) -> None:
    """One account's rows: choose versions, find what vanished, write in steps, pending -> posted, spans."""
    versions = _chosen_versions(spool, provider_account_id)
    # Rows of unchanged spans are stored as the provider sent them (sync.apply.spans): counted, not read.
    unchanged = _unchanged_ids(spool, provider_account_id, versions.position)
    counts.unchanged += len(unchanged)
    if progress is not None and unchanged:
        progress.applied(len(unchanged))
    # Rows the provider dropped: named (cursor mode) or vanished from the window.
    vanished: list[str] = []
    if window is not None:
        in_window = Transaction.objects.filter(account=account, posted_date__range=window)
        vanished = _vanished_ids(in_window, versions.position, unchanged)
    del unchanged
    step = _AccountWrite(
        account, removed=removed, vanished=vanished, links=versions.links, now=now, counts=counts, progress=progress
    )
    repeated = versions.repeated
    step.write_chosen(spool.rows(provider_account_id), versions.position)
    del versions
    step.match_pending_to_posted()
    step.retire_gone()
    if spool.track_spans:
        # The spans applied here, whole, describe the account's rows from now on. An
        # id that came twice (in two pages) ties two spans together: keep none then.
        spans = spool.spans.get(provider_account_id, [])
        keep = window is not None and provider_account_id in spool.accounts_covered and not repeated
        replace_spans(account, [(span, rows) for span, rows, _ in spans] if keep else [], now)


class _AccountWrite:
    """The writing steps of one account's apply, and what they hand each other.

    The rows the provider dropped (`gone`) and the pending rows it links to
    stay in memory (`kept`) until the end; every other row only for its step
    of SPOOL_ROWS_PER_STEP rows.
    """

    def __init__(
        self,
        account: Account,
        *,
        removed: list[str],
        vanished: list[str],
        links: set[str],
        now: datetime,
        counts: Counts,
        progress: ProgressCounter | None = None,
    ) -> None:
        self.account, self.now, self.counts = account, now, counts
        self.progress = progress
        self.links = links
        self.kept: dict[str, _Row] = {}
        _load_by_ids(account, [*removed, *vanished, *links], self.kept)
        self.gone = [self.kept[i] for i in [*removed, *vanished] if i in self.kept]
        self.vanished_amounts = {row.amount for row in self.gone if row.pending}
        self.linked: list[tuple[_Row, str]] = []  # created rows the provider links to a pending id, in order
        self.candidates: list[_Row] = []  # created posted rows that may replace a vanished pending row
        self.pending_pks: list = []  # stored rows that are pending
        self.updated: dict = {}  # rows the links and removals changed, by pk
        self.relinked: list[_Row] = []  # posted rows that now replace a pending one

    def write_chosen(self, spooled: Iterable[tuple], chosen: dict[str, int]) -> None:
        """Insert or update the chosen version of every id, SPOOL_ROWS_PER_STEP rows at a time."""
        step: list[tuple] = []
        for position, item in enumerate(spooled):
            if chosen.get(item[0]) == position:
                step.append(item)
                if len(step) >= SPOOL_ROWS_PER_STEP:
                    self._write_step(step)
                    step = []
        if step:
            self._write_step(step)

    def _write_step(self, step: list[tuple]) -> None:
        kept, counts = self.kept, self.counts
        stored: dict[str, _Row] = {}
        _load_by_ids(self.account, [item[0] for item in step if item[0] not in kept], stored)
        created: list[_Row] = []
        changed: list[_Row] = []
        ids = iter(new_ids(len(step) - len(stored)))  # enough for every row not stored yet
        for provider_id, values, pending, link in step:
            row = kept.get(provider_id) or stored.get(provider_id)
            if row is None:
                row = _Row(next(ids), provider_id, values, adding=True)
                created.append(row)
                counts.created += 1
                if provider_id in self.links:
                    kept[provider_id] = row
                if link:
                    self.linked.append((row, link))
                elif not pending and row.amount in self.vanished_amounts:
                    self.candidates.append(row)
                continue
            if row.values != values:
                row.values = values
                changed.append(row)
                counts.updated += 1
            else:
                counts.unchanged += 1
            if row.pending and provider_id not in kept:
                self.pending_pks.append(row.pk)
        _insert_transactions(self.account, created, self.now)
        _update_transactions(changed, self.now)
        if self.progress is not None:
            self.progress.applied(len(step))

    def match_pending_to_posted(self) -> None:
        """Pending -> posted: first the links the provider gives, then (window providers that give
        none) a vanished pending row matched to a new posted row of the same amount within
        PENDING_MATCH_DAYS, nearest first."""
        self.pending_pks += [row.pk for row in self.kept.values() if row.pending and not row.adding]
        already_replaced = _replaced_ids(self.pending_pks)
        for row, link in self.linked:
            pending = self.kept.get(link)
            if pending is not None and pending is not row and pending.pk not in already_replaced:
                self._link(row, pending)
                already_replaced.add(pending.pk)
        for pending in sorted((g for g in self.gone if g.pending), key=lambda r: r.posted_date):
            if pending.pk in already_replaced:
                continue
            matches = [
                p
                for p in self.candidates
                if p.replaces_id is None
                and p.amount == pending.amount
                and abs((p.posted_date - pending.posted_date).days) <= PENDING_MATCH_DAYS
            ]
            if matches:
                best = min(matches, key=lambda p: (abs((p.posted_date - pending.posted_date).days), p.provider_id))
                self._link(best, pending)
                already_replaced.add(pending.pk)

    def _link(self, posted: _Row, pending: _Row) -> None:
        """`posted` replaces `pending`: link them, carry the user's edits across, retire the pending row."""
        posted.replaces_id = pending.pk
        posted.category = posted.category or pending.category
        posted.notes = posted.notes or pending.notes
        _remove(pending, self.now, self.counts, self.updated)
        self.relinked.append(posted)

    def retire_gone(self) -> None:
        """Soft-remove what the provider dropped; write what the links and removals changed (all rows are stored)."""
        for row in self.gone:
            _remove(row, self.now, self.counts, self.updated)
        _update_transactions(list(self.updated.values()), self.now)
        bulk_update(
            Transaction,
            ("id", "replaces_id", "category", "notes"),
            [(row.pk, row.replaces_id, row.category, row.notes) for row in self.relinked],
        )


def _count_present(in_window: QuerySet[Transaction], expected: int) -> int:
    """How many rows of the window are not removed; StaleSpans when fewer than the unchanged spans' rows.

    Every row of an unchanged span is stored, not removed, dated within the
    window; fewer such rows means one was deleted behind the sync's back.
    """
    present = in_window.filter(is_removed=False).count()
    if present < expected:
        raise StaleSpans("rows of an unchanged span are missing")
    return present


def _insert_transactions(account: Account, rows: list[_Row], now: datetime) -> None:
    records = [
        (row.pk, now, now, account.pk, row.provider_id, *row.values, row.category, row.notes, row.replaces_id)
        for row in rows
    ]
    bulk_insert(Transaction, TRANSACTION_COLUMNS, records)


def _update_transactions(rows: list[_Row], now: datetime) -> None:
    records = [(row.pk, *row.values, now) for row in rows]
    bulk_update(Transaction, ("id", *TRANSACTION_SYNCED_FIELDS, "updated_at"), records)
