"""The service layer's three sync handlers.

Every handler follows the same steps (docs/architecture.md, "Handler flow"):

1. begin: look up the actor and the target (not found unless owned, or staff
   with `sync.sync_connection`), validate, record the attempt, check the
   connection's status;
2. gate: skip when the same kind succeeded recently (sync.services.gate),
   unless forced;
3. claim the connection (a `running` SyncRun with a lease: sync.services.runs);
4. fetch from the provider, with no database transaction open;
5. apply everything, finish the run and save timestamps/cursor in one
   transaction (sync.apply);
6. finish: emit `succeeded`, or record the failure after the data transaction
   rolled back, so that it survives it.

What differs per kind is a small plan object (`_AccountsPlan`,
`_TransactionsPlan`, `_HoldingsPlan`, `_StatementPlan`): how to find the
target and its last success, when to skip (the gate), what to fetch, and
what to write. A statement import is the same flow: its "fetch" parses the
file, its gate is "this file was imported already".
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.utils import timezone

from providers.base import Provider
from providers.errors import ProviderError
from providers.registry import get_provider_class
from sync import selectors
from sync.apply import spans
from sync.apply.accounts import upsert_accounts
from sync.apply.holdings import apply_holdings
from sync.apply.spool import spool_transactions
from sync.apply.statements import apply_statement_file
from sync.apply.transactions import apply_spooled_transactions
from sync.audit import signals
from sync.commands import ImportStatement, SyncAccounts, SyncHoldings, SyncTransactions
from sync.crypto import decrypt_credentials
from sync.errors import (
    ConnectionInactive,
    InternalError,
    NotFound,
    ProviderBadResponse,
    ReauthRequired,
    SyncError,
    ValidationError,
    from_provider_error,
)
from sync.models import Account, Connection, StatementImport, SyncKind, SyncRun
from sync.progress import Progress, ProgressCounter
from sync.results import Counts, SyncResult
from sync.scrub import Scrubber, scrubber_for
from sync.services.connections import store_credentials
from sync.services.gate import ALREADY_IMPORTED, IMPORTS_FILES, RECENTLY_SYNCED, recently_synced
from sync.services.runs import Attempt
from sync.services.window import transactions_window

if TYPE_CHECKING:
    from uuid import UUID

    from django.contrib.auth.models import AbstractBaseUser

    SyncCommand = SyncAccounts | SyncTransactions | SyncHoldings | ImportStatement


logger = logging.getLogger("finsync.sync")

__all__ = [
    "import_statement",
    "mark_needs_reauth",
    "sync_accounts",
    "sync_holdings",
    "sync_transactions",
    "transactions_window",
]


def sync_accounts(
    command: SyncAccounts, *, source: str, correlation_id: uuid.UUID | None = None, progress: Progress | None = None
) -> SyncResult:
    """Sync every account of a connection; accounts it no longer reports go inactive.

    `progress` (all three syncs): called with a `ProgressEvent` as rows are fetched and applied.
    """
    return _run(_AccountsPlan(command), command, source=source, correlation_id=correlation_id, progress=progress)


def sync_transactions(
    command: SyncTransactions, *, source: str, correlation_id: uuid.UUID | None = None, progress: Progress | None = None
) -> SyncResult:
    """Sync transactions for a window (or by cursor), for a connection or one of its accounts."""
    return _run(_TransactionsPlan(command), command, source=source, correlation_id=correlation_id, progress=progress)


def sync_holdings(
    command: SyncHoldings, *, source: str, correlation_id: uuid.UUID | None = None, progress: Progress | None = None
) -> SyncResult:
    """Sync one account's holdings: a full snapshot, missing positions go inactive."""
    return _run(_HoldingsPlan(command), command, source=source, correlation_id=correlation_id, progress=progress)


def import_statement(command: ImportStatement, *, source: str, correlation_id: uuid.UUID | None = None) -> SyncResult:
    """Import an OFX/QFX file into a statement-file connection: every statement in it, in one transaction.

    Same flow as the syncs (ownership, one at a time per connection, a run and
    audit events naming the file by name, size and SHA-256, never its
    contents). A file already imported into the connection is skipped
    (`already_imported`) unless forced; identity rules: sync.apply.statements.
    """
    return _run(_StatementPlan(command), command, source=source, correlation_id=correlation_id)


# --- what differs per kind ------------------------------------------------------------------------


@dataclass
class _Fetched:
    """What a plan fetched, ready to write; `close` releases it (a spool on disk) if it is not written."""

    data: Any
    warnings: list[str] = field(default_factory=list)
    accounts: list = field(default_factory=list)

    def close(self) -> None:
        close = getattr(self.data, "close", None)
        if close is not None:
            close()


class _Plan(Protocol):
    kind: str
    spools: bool  # fetches pages to a spool, which reports progress page by page

    def resolve(self, actor: AbstractBaseUser | None, attempt: Attempt) -> datetime | None:
        """Find the target (NotFound otherwise), fill `attempt`; return the kind's last success."""

    def gate(self, attempt: Attempt, *, force: bool) -> tuple[str, str] | None:
        """(reason, message) when this attempt is skipped, else None."""

    def fetch(self, provider: Provider, attempt: Attempt, *, known_spans: bool) -> _Fetched:
        """Ask the provider; no database transaction is open."""

    def write(self, fetched: _Fetched, attempt: Attempt, now: datetime) -> Counts:
        """Apply what was fetched; runs inside the data transaction."""


class _SyncGate:
    """The three syncs' gate: a statement-file connection is not synced; else the recently-synced gate."""

    spools = False

    def gate(self, attempt: Attempt, *, force: bool) -> tuple[str, str] | None:
        if _imports_files(attempt.connection):
            return IMPORTS_FILES, "this connection gets its data from statement files: import an OFX or QFX file"
        skip = recently_synced(attempt.last_success, force=force)
        return (RECENTLY_SYNCED, skip) if skip else None


class _AccountsPlan(_SyncGate):
    kind = SyncKind.ACCOUNTS

    def __init__(self, command: SyncAccounts) -> None:
        self.command = command

    def resolve(self, actor: AbstractBaseUser | None, attempt: Attempt) -> datetime | None:
        attempt.connection = _syncable_connection(actor, self.command.connection_id)
        return attempt.connection.accounts_synced_at

    def fetch(self, provider: Provider, attempt: Attempt, *, known_spans: bool) -> _Fetched:
        fetched = provider.fetch_accounts()
        return _Fetched(fetched.accounts, fetched.warnings)

    def write(self, fetched: _Fetched, attempt: Attempt, now: datetime) -> Counts:
        counts, _ = upsert_accounts(
            attempt.connection, fetched.data, deactivate_missing=True, snapshot_source=self.kind, now=now
        )
        Connection.objects.filter(pk=attempt.connection.pk).update(accounts_synced_at=now, updated_at=now)
        return counts


class _TransactionsPlan(_SyncGate):
    kind = SyncKind.TRANSACTIONS
    spools = True

    def __init__(self, command: SyncTransactions) -> None:
        self.command = command
        self.cursor_mode = False

    def resolve(self, actor: AbstractBaseUser | None, attempt: Attempt) -> datetime | None:
        connection = _syncable_connection(actor, self.command.connection_id)
        attempt.connection = connection
        if self.command.account_id is not None:
            attempt.account = Account.objects.filter(pk=self.command.account_id, connection=connection).first()
            if attempt.account is None:
                raise NotFound("account not found on this connection")
        attempt.window_start, attempt.window_end = transactions_window(self.command.start_date, self.command.end_date)
        if attempt.account is not None:
            return attempt.account.transactions_synced_at
        return connection.transactions_synced_at

    def fetch(self, provider: Provider, attempt: Attempt, *, known_spans: bool) -> _Fetched:
        connection, account = attempt.connection, attempt.account
        self.cursor_mode = provider.capabilities.transactions_mode == "cursor"
        # A cursor covers the whole connection: syncing by cursor for one
        # account would advance it past the other accounts' changes.
        account_ids = None if self.cursor_mode or account is None else [account.provider_account_id]
        spans_made = provider.capabilities.transaction_spans and not self.cursor_mode
        options = {}
        if spans_made and spans.enabled() and known_spans:
            # What the last sync applied, so that the provider skips unchanged spans.
            options["known_spans"] = spans.known_spans(connection, account)
        # Pages go to a spool on disk as they arrive, so memory stays bounded
        # however many rows the provider sends; the data transaction streams it.
        spool = spool_transactions(
            provider.iter_transaction_pages(
                start=attempt.window_start,
                end=attempt.window_end,
                account_ids=account_ids,
                cursor=connection.cursor if self.cursor_mode else None,
                **options,
            ),
            track_spans=spans_made,
            progress=attempt.progress,
        )
        fetched = _Fetched(spool, spool.warnings, accounts=list(spool.accounts.values()))
        try:
            known = set(connection.accounts.values_list("provider_account_id", flat=True))
            wanted = spool.account_ids() | set(spool.accounts_covered)
            if wanted - known - set(spool.accounts):
                # Transactions for accounts we have not seen: learn them first.
                fetched.accounts = provider.fetch_accounts().accounts
        except BaseException:
            fetched.close()
            raise
        return fetched

    def write(self, fetched: _Fetched, attempt: Attempt, now: datetime) -> Counts:
        connection, account, spool = attempt.connection, attempt.account, fetched.data
        try:
            _, accounts_by_pid = upsert_accounts(
                connection, fetched.accounts, deactivate_missing=False, snapshot_source=self.kind, now=now
            )
            window = None if self.cursor_mode else (attempt.window_start, attempt.window_end)
            counts = apply_spooled_transactions(
                accounts_by_pid, spool, window=window, now=now, progress=attempt.progress
            )
        finally:
            fetched.close()
        synced = [accounts_by_pid[p] for p in spool.accounts_covered if p in accounts_by_pid]
        if account is not None:
            synced.append(account)
        Account.objects.filter(pk__in=[a.pk for a in synced if a.pk]).update(transactions_synced_at=now)
        changes: dict[str, Any] = {"updated_at": now}
        if account is None or self.cursor_mode:
            changes["transactions_synced_at"] = now
        if self.cursor_mode and spool.next_cursor is not None:
            changes["cursor"] = spool.next_cursor
        Connection.objects.filter(pk=connection.pk).update(**changes)
        return counts


class _HoldingsPlan(_SyncGate):
    kind = SyncKind.HOLDINGS

    def __init__(self, command: SyncHoldings) -> None:
        self.command = command

    def resolve(self, actor: AbstractBaseUser | None, attempt: Attempt) -> datetime | None:
        account = selectors.syncable_accounts(actor).filter(pk=self.command.account_id).first()
        if account is None:
            raise NotFound("account not found")
        attempt.account, attempt.connection = account, account.connection
        return account.holdings_synced_at

    def fetch(self, provider: Provider, attempt: Attempt, *, known_spans: bool) -> _Fetched:
        if not provider.capabilities.holdings:
            return _Fetched(None, [f"the {provider.display_name} provider does not report holdings"])
        fetched = provider.fetch_holdings(account_id=attempt.account.provider_account_id)
        return _Fetched(fetched, fetched.warnings)

    def write(self, fetched: _Fetched, attempt: Attempt, now: datetime) -> Counts:
        holdings, account = fetched.data, attempt.account
        counts = Counts() if holdings is None else apply_holdings(account, holdings, now=now)
        if holdings is not None and holdings.account is not None:
            upsert_accounts(
                attempt.connection, [holdings.account], deactivate_missing=False, snapshot_source=self.kind, now=now
            )
        Account.objects.filter(pk=account.pk).update(holdings_synced_at=now, updated_at=now)
        return counts


class _StatementPlan:
    """ImportStatement: the target is a statement-file connection, "fetch" parses the file."""

    kind = SyncKind.STATEMENT
    spools = False

    def __init__(self, command: ImportStatement) -> None:
        self.command = command
        self.sha256 = hashlib.sha256(command.content).hexdigest()

    def resolve(self, actor: AbstractBaseUser | None, attempt: Attempt) -> datetime | None:
        command = self.command
        attempt.details = {
            "file": {"name": (command.filename or "")[:255], "size": len(command.content), "sha256": self.sha256}
        }
        attempt.connection = _syncable_connection(actor, command.connection_id)
        if not _imports_files(attempt.connection):
            raise ValidationError(
                f"connection {attempt.connection.pk} is a {attempt.connection.provider} connection, "
                "not a statement-file one: create one with the provider 'ofx'"
            )
        limit = settings.FINSYNC_MAX_STATEMENT_BYTES
        if len(command.content) > limit:
            raise ValidationError(f"the file is over the limit of {limit} bytes (FINSYNC_MAX_STATEMENT_BYTES)")
        return None

    def gate(self, attempt: Attempt, *, force: bool) -> tuple[str, str] | None:
        if force:
            return None
        earlier = StatementImport.objects.filter(connection=attempt.connection, sha256=self.sha256).first()
        if earlier is None:
            return None
        when = timezone.localtime(earlier.imported_at).strftime("%Y-%m-%d %H:%M")
        return (
            ALREADY_IMPORTED,
            f"this file ({earlier.filename or 'unnamed'}) was imported on {when}; force to import again",
        )

    def fetch(self, provider: Provider, attempt: Attempt, *, known_spans: bool) -> _Fetched:
        parsed = provider.parse_statement(self.command.content)
        return _Fetched(parsed, list(parsed.warnings))

    def write(self, fetched: _Fetched, attempt: Attempt, now: datetime) -> Counts:
        counts, warnings = apply_statement_file(attempt.connection, fetched.data, now=now)
        fetched.warnings += [w for w in warnings if w not in fetched.warnings]
        StatementImport.objects.bulk_create(
            [
                StatementImport(
                    connection=attempt.connection,
                    sha256=self.sha256,
                    filename=(self.command.filename or "")[:255],
                    size=len(self.command.content),
                    sync_run=attempt.run,
                    imported_at=now,
                )
            ],
            ignore_conflicts=True,  # a forced re-import keeps the first import's record
        )
        Connection.objects.filter(pk=attempt.connection.pk).update(
            accounts_synced_at=now, transactions_synced_at=now, updated_at=now
        )
        return counts


def _imports_files(connection: Connection) -> bool:
    try:
        return get_provider_class(connection.provider).capabilities.imports_files
    except KeyError:
        return False


# --- the steps every kind takes -------------------------------------------------------------------


def _run(
    plan: _Plan,
    command: SyncCommand,
    *,
    source: str,
    correlation_id: uuid.UUID | None,
    progress: Progress | None = None,
) -> SyncResult:
    attempt = _begin(plan, command, source=source, correlation_id=correlation_id)
    if progress is not None:
        attempt.progress = ProgressCounter(
            progress,
            kind=plan.kind,
            connection_id=attempt.connection.pk,
            account_id=attempt.account.pk if attempt.account is not None else None,
        )
    skip = plan.gate(attempt, force=command.force)
    if skip:
        reason, message = skip
        run = attempt.record_skip(reason, message)
        return _result(attempt, run, Counts(), status=SyncRun.Status.SKIPPED, reason=reason, message=message)
    try:
        run = attempt.claim()
    except SyncError as error:
        attempt.record_failure(error)
        raise
    counts, warnings = _fetch_and_apply(plan, attempt, run)
    payload = attempt.base_payload() | counts.as_dict()
    if warnings:
        payload["warnings"] = warnings
    attempt.emit("succeeded", run, payload)
    return _result(attempt, run, counts, status=SyncRun.Status.SUCCEEDED, warnings=warnings)


def _begin(plan: _Plan, command: SyncCommand, *, source: str, correlation_id: uuid.UUID | None) -> Attempt:
    """Who asks for what: the attempt, recorded (`attempted`), with its target found and its status checked."""
    actor = selectors.get_user(command.user_id)
    attempt = Attempt(
        kind=plan.kind, actor=actor, source=source, correlation_id=correlation_id or uuid.uuid4(), force=command.force
    )
    try:
        if actor is None:
            raise NotFound("user not found")
        attempt.last_success = plan.resolve(actor, attempt)
    except SyncError as error:
        attempt.emit("attempted", None, attempt.base_payload())
        attempt.record_failure(error)
        raise
    attempt.emit("attempted", None, attempt.base_payload())
    try:
        _check_status(attempt.connection)
    except SyncError as error:
        attempt.record_failure(error)
        raise
    return attempt


def _fetch_and_apply(plan: _Plan, attempt: Attempt, run: SyncRun) -> tuple[Counts, list[str]]:
    """Fetch (no transaction open), then write in one transaction; every failure is recorded on `run`."""
    provider = None
    # Every message from the provider is scrubbed of secrets here, before it is stored
    # or shown anywhere: the server's until the connection's credentials are decrypted.
    scrubber = scrubber_for(None)
    rotated: list[dict] = []
    try:
        provider, scrubber = _provider_for(attempt.connection)
        provider.on_credentials_changed = _credentials_sink(attempt.connection, rotated)
        now = timezone.now()
        fetched = _fetch(plan, provider, attempt, scrubber, known_spans=True)
        try:
            counts = _write(plan, attempt, run, fetched, now)
        except spans.StaleSpans as stale:
            # Rolled back: fetch once more, every row mapped (no known spans), and apply that.
            logger.info("sync %s of connection %s fetches again: %s", plan.kind, attempt.connection.pk, stale)
            if attempt.progress is not None:
                attempt.progress.restart()
            fetched = _fetch(plan, provider, attempt, scrubber, known_spans=False)
            counts = _write(plan, attempt, run, fetched, now)
        return counts, fetched.warnings
    except ProviderError as error:
        if rotated:  # tokens issued during this sync are secrets too
            scrubber = scrubber_for({"before": _credentials_of(attempt.connection), "rotated": rotated})
        failure = scrubber.scrub_error(from_provider_error(error))
        if isinstance(failure, ReauthRequired):
            mark_needs_reauth(
                attempt.connection,
                actor=attempt.actor,
                source=attempt.source,
                correlation_id=attempt.correlation_id,
                reason=failure.message,
            )
        _fail(attempt, run, failure)
        raise failure from None
    except SyncError as error:
        _fail(attempt, run, scrubber.scrub_error(error))
        raise
    except (IntegrityError, DataError) as error:
        # The provider's data broke a database rule: nothing was written.
        logger.warning("sync %s of connection %s could not be stored: %s", plan.kind, attempt.connection.pk, error)
        failure = ProviderBadResponse("the provider's data could not be stored; nothing was changed")
        _fail(attempt, run, failure)
        raise failure from None
    except BaseException as error:
        # A bug or an outage: record it, release the claim, let the original propagate.
        try:
            _fail(attempt, run, InternalError(f"internal error: {type(error).__name__}"))
        except DatabaseError:
            logger.exception("could not record the failure of sync run %s", run.pk)
        raise
    finally:
        if provider is not None:
            provider.close()


def _fetch(plan: _Plan, provider: Provider, attempt: Attempt, scrubber: Scrubber, *, known_spans: bool) -> _Fetched:
    fetched = plan.fetch(provider, attempt, known_spans=known_spans)
    fetched.warnings = scrubber.scrub_all(fetched.warnings)
    if attempt.progress is not None and not plan.spools:  # a spool reports its own pages as they arrive
        data = fetched.data
        rows = getattr(data, "holdings", getattr(data, "statements", data))
        attempt.progress.fetched(len(rows) if rows is not None else 0)
    return fetched


def _write(plan: _Plan, attempt: Attempt, run: SyncRun, fetched: _Fetched, now: datetime) -> Counts:
    """The data, the run's outcome and the connection's state, in one transaction."""
    try:
        with transaction.atomic():
            counts = plan.write(fetched, attempt, now)
            attempt.finish(run, counts, fetched.warnings)
            _clear_error(attempt.connection)
    finally:
        fetched.close()
    if attempt.progress is not None:
        # A spool's apply reported each step already: this last event only says the apply is done.
        attempt.progress.applied(0 if plan.spools else counts.created + counts.updated + counts.unchanged)
    return counts


def _fail(attempt: Attempt, run: SyncRun, error: SyncError) -> None:
    attempt.record_failure(error, run)
    Connection.objects.filter(pk=attempt.connection.pk).update(
        last_error=error.message[:2000],
        last_error_code=error.code,
        last_error_at=timezone.now(),
    )


def _clear_error(connection: Connection) -> None:
    if connection.last_error or connection.last_error_code:
        Connection.objects.filter(pk=connection.pk).update(last_error="", last_error_code="", last_error_at=None)


def _result(
    attempt: Attempt,
    run: SyncRun,
    counts: Counts,
    *,
    status: str,
    reason: str = "",
    message: str = "",
    warnings: list[str] | None = None,
) -> SyncResult:
    return SyncResult(
        command=attempt.kind,
        status=status,
        connection_id=attempt.connection.pk,
        account_id=attempt.account.pk if attempt.account else None,
        sync_run_id=run.pk,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        removed=counts.removed,
        reason=reason,
        message=message,
        warnings=list(warnings or []),
    )


def _syncable_connection(actor: AbstractBaseUser | None, connection_id: UUID | str) -> Connection:
    connection = selectors.syncable_connections(actor).filter(pk=connection_id).first()
    if connection is None:
        raise NotFound("connection not found")
    return connection


def _check_status(connection: Connection) -> None:
    if connection.status == Connection.Status.DISCONNECTED:
        raise ConnectionInactive("the connection is disconnected")
    if connection.status == Connection.Status.NEEDS_REAUTH:
        raise ReauthRequired("the connection needs re-authentication with the provider")


def _provider_for(connection: Connection) -> tuple[Provider, Scrubber]:
    """The connection's provider adapter, and the scrubber of its credentials and the server's secrets."""
    try:
        provider_class = get_provider_class(connection.provider)
    except KeyError:
        raise ValidationError(f"unknown provider {connection.provider!r}") from None
    credentials = decrypt_credentials(connection.credentials_encrypted)
    return provider_class(credentials=credentials, config=connection.config), scrubber_for(credentials)


def _credentials_sink(connection: Connection, rotated: list[dict]):
    """The adapter's `on_credentials_changed`: store new credentials at once, in their own transaction.

    Called mid-fetch (no transaction open), under the sync claim, so two syncs
    of one connection never refresh at once; the next sync decrypts what this
    stored. Kept in `rotated` as well, to scrub them from this sync's messages.
    """

    def sink(credentials: dict) -> None:
        store_credentials(connection.pk, credentials)
        rotated.append(dict(credentials))

    return sink


def _credentials_of(connection: Connection) -> dict:
    return decrypt_credentials(connection.credentials_encrypted) if connection.credentials_encrypted else {}


def mark_needs_reauth(
    connection: Connection,
    *,
    actor: AbstractBaseUser | None,
    source: str,
    correlation_id: uuid.UUID | None = None,
    reason: str = "",
) -> None:
    """The provider refused the credentials: the user must reconnect before the next sync."""
    changed = Connection.objects.filter(pk=connection.pk, status=Connection.Status.ACTIVE).update(
        status=Connection.Status.NEEDS_REAUTH,
        updated_at=timezone.now(),
    )
    if changed:
        old = connection.status
        connection.status = Connection.Status.NEEDS_REAUTH
        signals.connection_status_changed.send(
            sender=Connection,
            connection=connection,
            actor=actor,
            source=source,
            correlation_id=correlation_id,
            payload={"from": old, "to": connection.status, "reason": reason},
        )
