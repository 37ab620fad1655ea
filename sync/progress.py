"""Progress of a sync as it runs: what the handlers report to an interface that wants to show it.

The service layer takes an optional `progress` callback (`sync_connection`, the
handlers) and calls it with a `ProgressEvent` as pages arrive (the spool) and as
rows are written (the apply, per step). It never imports an interface: the CLI
renders the events (a tqdm bar on a terminal); without a callback nothing is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Where one sync is: counts so far, since the sync began (or since its last restart)."""

    kind: str  # "accounts", "transactions", "holdings", "statement"
    connection_id: UUID | None
    account_id: UUID | None  # the one account synced (holdings, or transactions of one account)
    stage: Literal["fetch", "apply"]
    pages: int  # pages fetched from the provider
    rows_fetched: int  # rows the provider sent (and rows it said are unchanged)
    rows_applied: int  # rows written or found unchanged


Progress = Callable[[ProgressEvent], None]


class ProgressCounter:
    """The counts of one sync, reported to `callback` at each step."""

    __slots__ = ("account_id", "callback", "connection_id", "kind", "pages", "rows_applied", "rows_fetched")

    def __init__(
        self, callback: Progress, *, kind: str, connection_id: UUID | None, account_id: UUID | None = None
    ) -> None:
        self.callback, self.kind, self.connection_id, self.account_id = callback, kind, connection_id, account_id
        self.restart()

    def restart(self) -> None:
        """Back to zero: what was fetched or applied is discarded (a restart page, a rolled-back apply)."""
        self.pages = self.rows_fetched = self.rows_applied = 0

    def fetched(self, rows: int, pages: int = 1) -> None:
        """`pages` more pages, of `rows` rows in all, arrived."""
        self.pages += pages
        self.rows_fetched += rows
        self._emit("fetch")

    def applied(self, rows: int) -> None:
        """`rows` more rows were written or found unchanged."""
        self.rows_applied += rows
        self._emit("apply")

    def _emit(self, stage: Literal["fetch", "apply"]) -> None:
        self.callback(
            ProgressEvent(
                kind=self.kind,
                connection_id=self.connection_id,
                account_id=self.account_id,
                stage=stage,
                pages=self.pages,
                rows_fetched=self.rows_fetched,
                rows_applied=self.rows_applied,
            )
        )
