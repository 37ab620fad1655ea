"""Several syncs in a row: what `sync all`, the admin's "Sync everything" and
the fleet run share. One failure is reported and does not stop the next sync,
except for failures that make the rest of the connection pointless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sync import selectors
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.errors import SyncError
from sync.progress import Progress
from sync.results import SyncResult
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID


# After these, the connection's remaining syncs would fail the same way.
STOPS_CONNECTION = {"not_found", "connection_inactive", "reauth_required", "credentials_invalid"}


@dataclass(frozen=True, kw_only=True)
class SyncOutcome:
    """A result, or the error of a failed sync, in one shape for reports."""

    command: str
    connection_id: uuid.UUID | None
    account_id: uuid.UUID | None
    result: SyncResult | None = None
    error: SyncError | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def as_dict(self) -> dict:
        if self.result is not None:
            return self.result.as_dict()
        return {
            "command": self.command,
            "connection_id": str(self.connection_id) if self.connection_id else None,
            "account_id": str(self.account_id) if self.account_id else None,
            "status": "failed",
            "reason": self.error.code,
            "message": self.error.message,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "removed": 0,
            "warnings": [],
            "sync_run_id": str(self.error.sync_run_id) if self.error.sync_run_id else None,
        }


def _run(
    command_name: str,
    handler: Callable[..., SyncResult],
    command: SyncAccounts | SyncTransactions | SyncHoldings,
    *,
    connection_id: UUID | str,
    account_id: UUID | str | None,
    source: str,
    correlation_id: UUID | None,
    progress: Progress | None = None,
) -> SyncOutcome:
    try:
        result = handler(command, source=source, correlation_id=correlation_id, progress=progress)
    except SyncError as error:
        return SyncOutcome(command=command_name, connection_id=connection_id, account_id=account_id, error=error)
    return SyncOutcome(command=command_name, connection_id=connection_id, account_id=account_id, result=result)


def sync_connection(
    *,
    connection_id: UUID | str,
    user_id: int | UUID | str,
    kinds: tuple[str, ...] = ("accounts", "transactions", "holdings"),
    force: bool = False,
    start_date: date | None = None,
    end_date: date | None = None,
    account_id: UUID | str | None = None,
    source: str,
    correlation_id: uuid.UUID | None = None,
    progress: Progress | None = None,
) -> list[SyncOutcome]:
    """Run the requested kinds for one connection, in order: accounts, transactions, holdings.

    Holdings are synced for each of the connection's investment accounts (or
    only `account_id`, when given). `progress`, when given, hears how each sync
    advances (sync.progress.ProgressEvent: pages, rows fetched and applied).
    """
    correlation_id = correlation_id or uuid.uuid4()
    common = {"source": source, "correlation_id": correlation_id, "progress": progress}
    outcomes: list[SyncOutcome] = []

    def stopped() -> bool:
        return bool(outcomes) and outcomes[-1].failed and outcomes[-1].error.code in STOPS_CONNECTION

    if "accounts" in kinds:
        outcomes.append(
            _run(
                "accounts",
                sync_accounts,
                SyncAccounts(connection_id=connection_id, user_id=user_id, force=force),
                connection_id=connection_id,
                account_id=None,
                **common,
            )
        )
    if "transactions" in kinds and not stopped():
        command = SyncTransactions(
            connection_id=connection_id,
            user_id=user_id,
            start_date=start_date,
            end_date=end_date,
            account_id=account_id,
            force=force,
        )
        outcomes.append(
            _run(
                "transactions", sync_transactions, command, connection_id=connection_id, account_id=account_id, **common
            )
        )
    if "holdings" in kinds and not stopped():
        account_ids = (
            [account_id]
            if account_id
            else list(selectors.holdings_accounts(connection_id).values_list("pk", flat=True))
        )
        for holding_account_id in account_ids:
            command = SyncHoldings(account_id=holding_account_id, user_id=user_id, force=force)
            outcomes.append(
                _run(
                    "holdings",
                    sync_holdings,
                    command,
                    connection_id=connection_id,
                    account_id=holding_account_id,
                    **common,
                )
            )
            if stopped():
                break
    return outcomes
