"""The service layer: the three sync handlers and the connection services.

Every handler follows DESIGN.md "Handler semantics":
look up (not found unless owned, or staff with `sync.sync_connection`) ->
validate -> connection status -> recently-synced gate (skip unless force) ->
claim the connection -> fetch from the provider outside any transaction ->
apply everything, finish the run and save timestamps/cursor in one
transaction. Every attempt leaves a SyncRun and audit events; failures are
recorded after the data transaction rolled back, so they survive it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date, timedelta

from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.timesince import timesince

from providers.base import Provider
from providers.errors import ProviderError
from providers.registry import get_provider_class
from sync import apply, selectors, signals, spans
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.crypto import decrypt_credentials
from sync.errors import (
    ConnectionInactive,
    NotFound,
    ProviderBadResponse,
    ReauthRequired,
    SyncError,
    ValidationError,
    from_provider_error,
)
from sync.models import Account, Connection, SyncKind, SyncRun
from sync.results import Counts, SyncResult
from sync.runs import Attempt
from sync.scrub import Scrubber, scrubber_for
from sync.spool import spool_transactions

logger = logging.getLogger("finsync.sync")

RECENTLY_SYNCED = "recently_synced"
EARLIEST_DATE = date(1970, 1, 1)  # providers speak epoch seconds; nothing bank-held is older


def sync_accounts(command: SyncAccounts, *, source: str, correlation_id: uuid.UUID | None = None) -> SyncResult:
    """Sync every account of a connection; accounts it no longer reports go inactive."""

    def resolve(actor, attempt):
        attempt.connection = _visible_connection(actor, command.connection_id)
        return attempt.connection.accounts_synced_at

    def work(provider, attempt, now):
        fetched = provider.fetch_accounts()

        def write():
            counts, _ = apply.upsert_accounts(
                attempt.connection,
                fetched.accounts,
                deactivate_missing=True,
                snapshot_source=SyncKind.ACCOUNTS,
                now=now,
            )
            Connection.objects.filter(pk=attempt.connection.pk).update(accounts_synced_at=now, updated_at=now)
            return counts

        return write, fetched.warnings

    return _execute(SyncKind.ACCOUNTS, command, source, correlation_id, resolve, work)


def sync_transactions(command: SyncTransactions, *, source: str, correlation_id: uuid.UUID | None = None) -> SyncResult:
    """Sync transactions for a window (or by cursor), for a connection or one of its accounts."""

    def resolve(actor, attempt):
        connection = _visible_connection(actor, command.connection_id)
        attempt.connection = connection
        if command.account_id is not None:
            attempt.account = Account.objects.filter(pk=command.account_id, connection=connection).first()
            if attempt.account is None:
                raise NotFound("account not found on this connection")
        attempt.window_start, attempt.window_end = transactions_window(command.start_date, command.end_date)
        if attempt.account is not None:
            return attempt.account.transactions_synced_at
        return connection.transactions_synced_at

    fetched_before = False

    def work(provider, attempt, now):
        nonlocal fetched_before
        connection, account = attempt.connection, attempt.account
        cursor_mode = provider.capabilities.transactions_mode == "cursor"
        # A cursor covers the whole connection: syncing by cursor for one
        # account would advance it past the other accounts' changes.
        account_ids = None if cursor_mode or account is None else [account.provider_account_id]
        spans_made = provider.capabilities.transaction_spans and not cursor_mode
        options = {}
        if spans_made and spans.enabled() and not fetched_before:
            # What the last sync applied, so that the provider skips unchanged spans
            # (not when fetching again because the apply met one it could not skip: StaleSpans).
            options["known_spans"] = spans.known_spans(connection, account)
        fetched_before = True
        # Pages go to a spool on disk as they arrive, so memory stays bounded
        # however many rows the provider sends; the data transaction streams it.
        fetched = spool_transactions(
            provider.iter_transaction_pages(
                start=attempt.window_start,
                end=attempt.window_end,
                account_ids=account_ids,
                cursor=connection.cursor if cursor_mode else None,
                **options,
            ),
            track_spans=spans_made,
        )
        try:
            known = set(connection.accounts.values_list("provider_account_id", flat=True))
            wanted = fetched.account_ids() | set(fetched.accounts_covered)
            accounts = list(fetched.accounts.values())
            if wanted - known - set(fetched.accounts):
                # Transactions for accounts we have not seen: learn them first.
                accounts = provider.fetch_accounts().accounts
        except BaseException:
            fetched.close()
            raise

        def write():
            try:
                _, accounts_by_pid = apply.upsert_accounts(
                    connection,
                    accounts,
                    deactivate_missing=False,
                    snapshot_source=SyncKind.TRANSACTIONS,
                    now=now,
                )
                window = None if cursor_mode else (attempt.window_start, attempt.window_end)
                counts = apply.apply_spooled_transactions(accounts_by_pid, fetched, window=window, now=now)
            finally:
                fetched.close()
            synced = [accounts_by_pid[p] for p in fetched.accounts_covered if p in accounts_by_pid]
            if account is not None:
                synced.append(account)
            Account.objects.filter(pk__in=[a.pk for a in synced if a.pk]).update(transactions_synced_at=now)
            changes = {"updated_at": now}
            if account is None or cursor_mode:
                changes["transactions_synced_at"] = now
            if cursor_mode and fetched.next_cursor is not None:
                changes["cursor"] = fetched.next_cursor
            Connection.objects.filter(pk=connection.pk).update(**changes)
            return counts

        return write, fetched.warnings

    return _execute(SyncKind.TRANSACTIONS, command, source, correlation_id, resolve, work)


def sync_holdings(command: SyncHoldings, *, source: str, correlation_id: uuid.UUID | None = None) -> SyncResult:
    """Sync one account's holdings: a full snapshot, missing positions go inactive."""

    def resolve(actor, attempt):
        account = selectors.accounts_for(actor).filter(pk=command.account_id).first()
        if account is None:
            raise NotFound("account not found")
        attempt.account, attempt.connection = account, account.connection
        return account.holdings_synced_at

    def work(provider, attempt, now):
        account = attempt.account
        if not provider.capabilities.holdings:
            fetched = None
            warnings = [f"the {provider.display_name} provider does not report holdings"]
        else:
            fetched = provider.fetch_holdings(account_id=account.provider_account_id)
            warnings = fetched.warnings

        def write():
            counts = Counts() if fetched is None else apply.apply_holdings(account, fetched, now=now)
            if fetched is not None and fetched.account is not None:
                apply.upsert_accounts(
                    attempt.connection,
                    [fetched.account],
                    deactivate_missing=False,
                    snapshot_source=SyncKind.HOLDINGS,
                    now=now,
                )
            Account.objects.filter(pk=account.pk).update(holdings_synced_at=now, updated_at=now)
            return counts

        return write, warnings

    return _execute(SyncKind.HOLDINGS, command, source, correlation_id, resolve, work)


# --- the shared flow ---------------------------------------------------------------


def _execute(kind: str, command, source: str, correlation_id, resolve: Callable, work: Callable) -> SyncResult:
    actor = selectors.get_user(command.user_id)
    attempt = Attempt(
        kind=kind, actor=actor, source=source, correlation_id=correlation_id or uuid.uuid4(), force=command.force
    )
    try:
        if actor is None:
            raise NotFound("user not found")
        last_success = resolve(actor, attempt)
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

    skip = _recently_synced(last_success, command.force)
    if skip:
        run = attempt.record_skip(RECENTLY_SYNCED, skip)
        return _result(
            kind, attempt, run, Counts(), status=SyncRun.Status.SKIPPED, reason=RECENTLY_SYNCED, message=skip
        )

    try:
        run = attempt.claim()
    except SyncError as error:
        attempt.record_failure(error)
        raise

    provider = None
    # Every message from the provider is scrubbed of secrets here, before it is stored
    # or shown anywhere: the server's until the connection's credentials are decrypted.
    scrubber = scrubber_for(None)
    try:
        provider, scrubber = _provider_for(attempt.connection)
        now = timezone.now()
        write, warnings = work(provider, attempt, now)  # network: no transaction is open here
        warnings = scrubber.scrub_all(warnings)
        try:
            counts = _write(attempt, run, write, warnings)
        except spans.StaleSpans as stale:
            # Rolled back: fetch once more, every row mapped, and apply that.
            logger.info("sync %s of connection %s fetches again: %s", kind, attempt.connection.pk, stale)
            write, warnings = work(provider, attempt, now)
            warnings = scrubber.scrub_all(warnings)
            counts = _write(attempt, run, write, warnings)
    except ProviderError as error:
        failure = scrubber.scrub_error(from_provider_error(error))
        if isinstance(failure, ReauthRequired):
            mark_needs_reauth(
                attempt.connection,
                actor=actor,
                source=source,
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
        logger.warning("sync %s of connection %s could not be stored: %s", kind, attempt.connection.pk, error)
        failure = ProviderBadResponse("the provider's data could not be stored; nothing was changed")
        _fail(attempt, run, failure)
        raise failure from None
    except BaseException as error:
        # A bug or an outage: record it, release the claim, let it propagate.
        failure = SyncError(f"internal error: {type(error).__name__}")
        failure.code = "internal_error"
        try:
            _fail(attempt, run, failure)
        except DatabaseError:
            logger.exception("could not record the failure of sync run %s", run.pk)
        raise
    finally:
        if provider is not None:
            provider.close()
    payload = attempt.base_payload() | counts.as_dict()
    if warnings:
        payload["warnings"] = warnings
    attempt.emit("succeeded", run, payload)
    return _result(kind, attempt, run, counts, status=SyncRun.Status.SUCCEEDED, warnings=warnings)


def _write(attempt: Attempt, run: SyncRun, write: Callable, warnings: list[str]) -> Counts:
    """The data, the run's outcome and the connection's state, in one transaction."""
    with transaction.atomic():
        counts = write()
        attempt.finish(run, counts, warnings)
        _clear_error(attempt.connection)
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
    kind,
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
        command=kind,
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


def _visible_connection(actor, connection_id) -> Connection:
    connection = selectors.connections_for(actor).filter(pk=connection_id).first()
    if connection is None:
        raise NotFound("connection not found")
    return connection


def _check_status(connection: Connection) -> None:
    if connection.status == Connection.Status.DISCONNECTED:
        raise ConnectionInactive("the connection is disconnected")
    if connection.status == Connection.Status.NEEDS_REAUTH:
        raise ReauthRequired("the connection needs re-authentication with the provider")


def _recently_synced(last_success, force: bool) -> str:
    """A skip message when the last success is within FINSYNC_MIN_SYNC_INTERVAL, else ''."""
    if force or last_success is None:
        return ""
    interval = timedelta(seconds=settings.FINSYNC_MIN_SYNC_INTERVAL)
    now = timezone.now()
    if now - last_success >= interval:
        return ""
    ago = "less than a minute" if now - last_success < timedelta(minutes=1) else timesince(last_success, now)
    return f"synced {ago} ago (use force to sync again)"


def transactions_window(start: date | None, end: date | None) -> tuple[date, date]:
    """The window a transactions sync covers, both ends inclusive; ValidationError when invalid."""
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


def _provider_for(connection: Connection) -> tuple[Provider, Scrubber]:
    """The connection's provider adapter, and the scrubber of its credentials and the server's secrets."""
    try:
        provider_class = get_provider_class(connection.provider)
    except KeyError:
        raise ValidationError(f"unknown provider {connection.provider!r}") from None
    credentials = decrypt_credentials(connection.credentials_encrypted)
    return provider_class(credentials=credentials, config=connection.config), scrubber_for(credentials)


def mark_needs_reauth(connection: Connection, *, actor, source: str, correlation_id=None, reason: str = "") -> None:
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
