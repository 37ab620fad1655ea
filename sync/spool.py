"""The transactions spool: fetched pages kept on disk until the data transaction applies them."""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import IO

from providers.base import AccountData, TransactionsResult
from sync.normalize import transaction_row


class TransactionSpool:
    """Fetched transactions kept on disk, one temporary file per account, until the data transaction applies them.

    The handler fills it outside any transaction from the provider's pages
    (`add`), then `apply_spooled_transactions` streams it in batches, so a sync
    holds a bounded number of rows in memory (plus one id per row of an account).
    Rows are validated and quantized as they are spooled.
    """

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {}
        self._first_ids: dict[str, str] = {}
        self.removed: dict[str, list[str]] = defaultdict(list)
        self.accounts: dict[str, AccountData] = {}
        self.accounts_covered: list[str] = []
        self.next_cursor: str | None = None
        self.warnings: list[str] = []

    def add(self, page: TransactionsResult) -> None:
        """Spool one page; `accounts_covered` and `next_cursor` are the last page's (see Provider)."""
        by_account: dict[str, list[tuple]] = defaultdict(list)
        for data in page.transactions:
            by_account[data.provider_account_id].append(
                (data.provider_transaction_id, transaction_row(data), data.pending, data.pending_transaction_id)
            )
        for account_id, items in by_account.items():
            if account_id not in self._files:
                self._files[account_id] = tempfile.TemporaryFile(prefix="finsync-spool-")  # noqa: SIM115 - closed in close()
                self._first_ids[account_id] = items[0][0]
            pickle.dump(items, self._files[account_id], protocol=pickle.HIGHEST_PROTOCOL)
        for item in page.removed:
            self.removed[item.provider_account_id].append(item.provider_transaction_id)
        for account in page.accounts:
            self.accounts[account.provider_account_id] = account
        self.accounts_covered = list(page.accounts_covered)
        self.next_cursor = page.next_cursor
        self.warnings += [w for w in page.warnings if w not in self.warnings]

    def account_ids(self) -> set[str]:
        """Accounts that have spooled transactions."""
        return set(self._files)

    def first_id(self, account_id: str) -> str:
        return self._first_ids[account_id]

    def rows(self, account_id: str) -> Iterator[tuple]:
        """(provider id, values, pending, pending_transaction_id) of an account, in the order spooled."""
        spool = self._files.get(account_id)
        if spool is None:
            return
        spool.seek(0)
        while True:
            try:
                items = pickle.load(spool)  # noqa: S301 - our own temporary file
            except EOFError:
                return
            yield from items

    def close(self) -> None:
        for spool in self._files.values():
            spool.close()
        self._files.clear()


def spool_transactions(pages: Iterable[TransactionsResult]) -> TransactionSpool:
    """Spool a provider's pages; the spool is closed if fetching fails."""
    spool = TransactionSpool()
    try:
        for page in pages:
            spool.add(page)
    except BaseException:
        spool.close()
        raise
    return spool
