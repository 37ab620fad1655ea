"""The three sync commands: immutable requests, executed by `sync.services.handlers`.

Fields and defaults follow the original specification (seeds/); where a sync
comes from (admin, API, CLI) and its correlation id are passed to the handler
beside the command, since they describe the call, not the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class SyncAccounts:
    """Sync every account of a connection (names, types, balances; closed ones go inactive)."""

    connection_id: UUID
    user_id: UUID | int
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class SyncTransactions:
    """Sync the transactions of a connection, or of one of its accounts, for a date window.

    `start_date` defaults to FINSYNC_DEFAULT_SYNC_DAYS before `end_date`, which
    defaults to today. Cursor providers ignore the window and sync by cursor.
    """

    connection_id: UUID
    user_id: UUID | int
    start_date: date | None = None
    end_date: date | None = None
    account_id: UUID | None = None
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class SyncHoldings:
    """Sync the holdings (positions) of one account: a full snapshot."""

    account_id: UUID
    user_id: UUID | int
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class ImportStatement:
    """Import an OFX/QFX statement file into a statement-file connection (provider `ofx`).

    The same file (by SHA-256) imported again is skipped unless forced; a
    forced re-import changes nothing. `content` is read, applied and dropped.
    """

    connection_id: UUID
    user_id: UUID | int
    filename: str
    content: bytes = field(repr=False)
    force: bool = False


SyncCommand = SyncAccounts | SyncTransactions | SyncHoldings | ImportStatement
