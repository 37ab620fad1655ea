"""The transactions spool: fetched pages kept on disk until the data transaction applies them."""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO

from providers.base import AccountData, TransactionSpan, TransactionsResult
from sync.apply.normalize import transaction_row
from sync.progress import ProgressCounter


class TransactionSpool:
    """Fetched transactions kept on disk, one temporary file per account, until the data transaction applies them.

    The handler fills it outside any transaction from the provider's pages
    (`add`), then `apply_spooled_transactions` streams it in batches, so a sync
    holds a bounded number of rows in memory (plus one id per row of an account).
    Rows are validated and quantized as they are spooled. Pages follow
    `Provider.iter_transaction_pages`' rules: a removal hides the versions of its
    id spooled up to its page, a later version takes the id back from `removed`,
    and a `restart` page discards everything spooled before it. With
    `track_spans`, span pages are noted in `spans`, and an unchanged span's ids
    are spooled in place of its rows (`unchanged_ids`).
    """

    def __init__(self, *, track_spans: bool = False) -> None:
        # The provider marks spans (Capabilities.transaction_spans): the apply keeps
        # the accounts' stored spans in step with their rows.
        self.track_spans = track_spans
        self._start()

    def _start(self) -> None:
        """An empty spool (again, after a restart)."""
        self._files: dict[str, IO[bytes]] = {}  # account -> (page, rows) records
        self._id_files: dict[str, IO[bytes]] = {}  # account -> the ids of its unchanged spans
        self._first_ids: dict[str, str] = {}
        self._page = 0
        # (account, removed id) -> page of the removal: a removal drops the versions
        # spooled on that page and before it; a version on a later page undoes it.
        self._removed_at: dict[tuple[str, str], int] = {}
        self.removed: dict[str, list[str]] = defaultdict(list)
        self.accounts: dict[str, AccountData] = {}
        self.accounts_covered: list[str] = []
        self.next_cursor: str | None = None
        self.warnings: list[str] = []
        # Span pages by account: (span, rows, unchanged); an unchanged span's ids are spooled too.
        self.spans: dict[str, list[tuple[TransactionSpan, int, bool]]] = defaultdict(list)

    def add(self, page: TransactionsResult) -> None:
        """Spool one page; `accounts_covered` and `next_cursor` are the last page's (see Provider).

        A page with `restart` set first discards everything spooled so far.
        """
        if page.restart:
            self.close()
            self._start()
        self._page += 1
        by_account: dict[str, list[tuple]] = defaultdict(list)
        for data in page.transactions:
            provider_id, account_id = data.provider_transaction_id, data.provider_account_id
            if self._removed_at.pop((account_id, provider_id), None) is not None:  # removed earlier, back now
                self.removed[account_id].remove(provider_id)
            by_account[account_id].append(
                (provider_id, transaction_row(data), data.pending, data.pending_transaction_id)
            )
        for account_id, items in by_account.items():
            self._write(self._files, account_id, (self._page, items), items[0][0])
        if page.span is not None and self.track_spans:
            span = page.span
            unchanged = page.unchanged_ids is not None
            rows = len(page.unchanged_ids) if unchanged else len(page.transactions)
            self.spans[span.provider_account_id].append((span, rows, unchanged))
            if unchanged and page.unchanged_ids:
                ids = page.unchanged_ids
                self._write(self._id_files, span.provider_account_id, ids, ids[0])
        for item in page.removed:
            key = (item.provider_account_id, item.provider_transaction_id)
            if key not in self._removed_at:
                self.removed[item.provider_account_id].append(item.provider_transaction_id)
            self._removed_at[key] = self._page
        for account in page.accounts:
            self.accounts[account.provider_account_id] = account
        self.accounts_covered = list(page.accounts_covered)
        self.next_cursor = page.next_cursor
        self.warnings += [w for w in page.warnings if w not in self.warnings]

    def _write(self, files: dict[str, IO[bytes]], account_id: str, record: tuple, first_id: str) -> None:
        """Append a record to the account's file of `files`: (page, rows) to `_files`, ids to `_id_files`."""
        if account_id not in files:
            files[account_id] = tempfile.TemporaryFile(prefix="finsync-spool-")  # noqa: SIM115 - closed in close()
            self._first_ids.setdefault(account_id, first_id)
        pickle.dump(record, files[account_id], protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _records(spool: IO[bytes] | None) -> Iterator:
        if spool is None:
            return
        spool.seek(0)
        while True:
            try:
                yield pickle.load(spool)  # noqa: S301 - our own temporary file
            except EOFError:
                return

    def account_ids(self) -> set[str]:
        """Accounts that have spooled transactions (rows, or ids of unchanged spans)."""
        return set(self._files) | set(self._id_files)

    def first_id(self, account_id: str) -> str:
        return self._first_ids[account_id]

    def rows(self, account_id: str) -> Iterator[tuple]:
        """(provider id, values, pending, pending_transaction_id) of an account, in the order spooled."""
        removed_at = {i: page for (a, i), page in self._removed_at.items() if a == account_id}
        for page, items in self._records(self._files.get(account_id)):
            if not removed_at:
                yield from items
                continue
            for item in items:
                if removed_at.get(item[0], 0) < page:
                    yield item

    def unchanged_ids(self, account_id: str) -> Iterator[str]:
        """The ids of the account's unchanged spans (rows the provider sent as the consumer holds them)."""
        for ids in self._records(self._id_files.get(account_id)):
            yield from ids

    def close(self) -> None:
        for files in (self._files, self._id_files):
            for spool in files.values():
                spool.close()
            files.clear()


def spool_transactions(
    pages: Iterable[TransactionsResult], *, track_spans: bool = False, progress: ProgressCounter | None = None
) -> TransactionSpool:
    """Spool a provider's pages; the spool is closed if fetching fails.

    `progress` hears of each page as it is spooled: its rows, and the ids of its unchanged span.
    """
    spool = TransactionSpool(track_spans=track_spans)
    try:
        for page in pages:
            spool.add(page)
            if progress is not None:
                if page.restart:  # the spool discarded what came before: so do the counts
                    progress.restart()
                progress.fetched(len(page.transactions) + len(page.unchanged_ids or ()))
    except BaseException:
        spool.close()
        raise
    return spool
