"""`manage.py sync {accounts,transactions,holdings,all} ...`: run syncs and report them.

Exit status: 0 when every sync succeeded or was skipped, 1 when any failed,
2 on bad usage (unknown id, bad date, start after end).
"""

from __future__ import annotations

import argparse
import json
import uuid
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sync.errors import SyncError
from sync.management.progress import ProgressBars
from sync.models import Account, Connection, Source
from sync.rendering import describe_row
from sync.services.connection_sync import SyncOutcome, sync_connection
from sync.services.due import sync_due_in_process
from sync.services.runs import with_durations
from sync.services.window import transactions_window

KINDS = {
    "accounts": ("accounts",),
    "transactions": ("transactions",),
    "holdings": ("holdings",),
    "all": ("accounts", "transactions", "holdings"),
}


# How each level of sync.rendering reads in a terminal.
STYLES = {"success": "SUCCESS", "info": "NOTICE", "warning": "WARNING", "error": "ERROR"}


@dataclass(frozen=True)
class ConnectionReport:
    """One connection's outcome rows, as printed."""

    connection_id: str
    name: str
    provider: str
    rows: list[dict]

    @classmethod
    def of(cls, connection: Connection, outcomes: list[SyncOutcome]) -> ConnectionReport:
        rows = with_durations([o.as_dict() for o in outcomes])
        return cls(str(connection.pk), connection.name, connection.provider, rows)


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _usage(f"{what} {value!r} is not a valid id") from None


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _usage(f"{what} {value!r} is not a date (YYYY-MM-DD)") from None


def _window(start_date: str | None, end_date: str | None) -> tuple[date | None, date | None]:
    start, end = _date(start_date, "--start-date"), _date(end_date, "--end-date")
    if start or end:
        try:
            transactions_window(start, end)  # the handlers' own rule, checked up front
        except SyncError as error:
            # Say which range is allowed and what was asked, not only that it is wrong.
            hints = [m for ms in error.fields.values() for m in ms if m != error.message]
            message = error.message + (f" ({'; '.join(hints)})" if hints else "")
            asked = f"{start or 'the default start'} to {end or timezone.localdate()}"
            message = f"{message}; asked for {asked}"
            message = message.replace("start_date", "--start-date").replace("end_date", "--end-date")
            raise _usage(message) from None
    return start, end


def _account(value: str | None, what: str) -> Account | None:
    if not value:
        return None
    account = Account.objects.filter(pk=_uuid(value, "--account")).first()
    if account is None:
        raise _usage(f"unknown account {value}")
    if what == "accounts":
        raise _usage("--account does not apply to 'sync accounts'")
    return account


def _actor(username: str | None):
    if not username:
        return None
    actor = get_user_model().objects.filter(username=username).first()
    if actor is None:
        raise _usage(f"unknown user {username!r}")
    return actor


EPILOG = """\
examples:
  manage.py sync all --connection ID            accounts, transactions (last 30 days), holdings
  manage.py sync transactions --connection ID --start-date 2026-01-01 --end-date 2026-03-31
  manage.py sync holdings --account ID --force  even if synced a moment ago
  manage.py sync all --all-connections          every connection that is due
  manage.py sync all --connection ID --format json | jq '.[] | .status'

defaults: each connection's owner acts; transactions: the last FINSYNC_DEFAULT_SYNC_DAYS days
(30) ending today, at most FINSYNC_MAX_SYNC_DAYS (730); a kind synced within
FINSYNC_MIN_SYNC_INTERVAL seconds is skipped unless --force.

exit status: 0 every sync succeeded or was skipped; 1 any failed; 2 bad usage (unknown id,
bad date, start after end; with --format json also printed as {"error": {"code", "message"}}).
"""


class Command(BaseCommand):
    help = "Sync accounts, transactions and holdings from the providers, and print what changed."

    def add_arguments(self, parser):
        parser.add_argument(
            "what",
            choices=tuple(KINDS),
            help="What to sync; 'all' runs accounts, transactions, then holdings of each investment account.",
        )
        target = parser.add_mutually_exclusive_group()
        target.add_argument(
            "--connection", action="append", default=[], metavar="ID", help="Connection id (repeatable)."
        )
        target.add_argument(
            "--all-connections",
            action="store_true",
            help="Every connection that is due: not disconnected and not synced within FINSYNC_MIN_SYNC_INTERVAL "
            "(--force: all of them).",
        )
        parser.add_argument("--account", metavar="ID", help="Only this account (transactions, holdings).")
        parser.add_argument("--start-date", metavar="YYYY-MM-DD", help="Transactions window start (inclusive).")
        parser.add_argument("--end-date", metavar="YYYY-MM-DD", help="Transactions window end (inclusive).")
        parser.add_argument("--force", action="store_true", help="Sync even if synced recently.")
        parser.add_argument("--user", help="Act as this user (default: each connection's owner).")
        parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format.")
        parser.add_argument(
            "--defer",
            action="store_true",
            help="With --all-connections: queue one job per due connection for the workers "
            "(`manage.py procrastinate worker`, PostgreSQL) and return; prints how many (json: the job ids).",
        )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    def handle(self, *args, **options):
        try:
            return self._handle(*args, **options)
        except CommandError as error:
            if options.get("format") == "json" and error.returncode == 2:
                # Scripts read JSON, never prose: the usage error as an object (the exit status stays 2).
                self.stdout.write(json.dumps({"error": {"code": "usage", "message": str(error)}}))
            raise

    def _handle(
        self,
        *args,
        what,
        connection,
        all_connections,
        account,
        start_date,
        end_date,
        force,
        user,
        format,
        defer,
        **options,
    ):
        start, end = _window(start_date, end_date)
        account_obj = _account(account, what)
        actor = _actor(user)
        if defer:
            return self._defer(what, all_connections, account_obj, connection, start, end, force, actor, format)
        connections = self._connections(connection, all_connections, account_obj)
        bars = self._progress_bars(options["verbosity"])

        if all_connections and account_obj is None:
            rows = []
            verbosity = options["verbosity"]
            not_due = []

            def on_connection(conn, outcomes):
                if bars is not None:
                    bars.close()
                report = ConnectionReport.of(conn, outcomes)
                rows.extend(report.rows)
                self._progress(len({r["connection_id"] for r in rows}), report, verbosity)
                if format == "text":
                    self._report(report, verbosity)

            sync_due_in_process(
                kinds=KINDS[what],
                force=force,
                actor=actor,
                start_date=start,
                end_date=end,
                source="cli",
                on_connection=on_connection,
                on_not_due=not_due.append,
                progress=bars,
            )
            try:
                return self._finish(rows, format, verbosity)
            finally:
                self._not_due_hint(not_due[0] if not_due else 0, format, verbosity)

        rows = []
        for conn in connections:
            outcomes = sync_connection(
                connection_id=conn.pk,
                user_id=actor.pk if actor else conn.owner_id,
                kinds=KINDS[what],
                force=force,
                start_date=start,
                end_date=end,
                account_id=account_obj.pk if account_obj else None,
                source="cli",
                progress=bars,
            )
            if bars is not None:
                bars.close()
            report = ConnectionReport.of(conn, outcomes)
            rows += report.rows
            if format == "text":
                self._report(report, options["verbosity"])
        return self._finish(rows, format, options["verbosity"])

    def _defer(self, what, all_connections, account, connection_ids, start, end, force, actor, format):
        # Imported here: the job engine's module is only needed (and only usable) with --defer.
        from sync.services.jobs import JobsUnavailable, defer_due

        if not all_connections or account is not None or connection_ids:
            raise _usage("--defer needs --all-connections (and no --account or --connection)")
        if start or end:
            raise _usage("--defer syncs each connection's default window; leave out --start-date and --end-date")
        try:
            deferred = defer_due(KINDS[what], source=Source.FLEET, force=force, actor=actor)
        except JobsUnavailable as error:
            raise _usage(error.message) from None
        if format == "json":
            self.stdout.write(json.dumps(deferred.job_ids))
        else:
            self.stdout.write(
                f"{len(deferred.job_ids)} sync jobs deferred"
                + (f" ({deferred.already_queued} connections already had one)" if deferred.already_queued else "")
            )

    def _finish(self, rows, format, verbosity):
        if format == "json":
            self.stdout.write(json.dumps(rows, indent=2))
        failed = sum(row["status"] == "failed" for row in rows)
        skipped = sum(row["status"] == "skipped" for row in rows)
        if format == "text" and verbosity >= 1:
            # Skips apart from successes: a skip fetched nothing.
            ok = len(rows) - failed - skipped
            self.stdout.write(f"{len(rows)} syncs: {ok} ok, {skipped} skipped, {failed} failed")
        if failed:
            raise CommandError(f"{failed} of {len(rows)} syncs failed", returncode=1)

    def _progress_bars(self, verbosity) -> ProgressBars | None:
        """Progress bars on stderr, only for a person at a terminal (not -v 0, not a pipe or file)."""
        if verbosity < 1 or not self.stderr.isatty():
            return None
        # tqdm draws with carriage returns: it writes to the stream itself, not through
        # Django's OutputWrapper, which would end each of its writes with a newline.
        return ProgressBars(getattr(self.stderr, "_out", self.stderr))

    def _not_due_hint(self, count, format, verbosity):
        """How many connections were left out as not due, and how to take them too.

        Text: after the summary, on stdout; JSON: on stderr, so the array stays as it is.
        """
        if not count or verbosity < 1:
            return
        interval = settings.FINSYNC_MIN_SYNC_INTERVAL
        noun = "connection was" if count == 1 else "connections were"
        hint = (
            f"{count} {noun} not due (synced within the last {interval} seconds, FINSYNC_MIN_SYNC_INTERVAL); "
            "add --force to sync them too"
        )
        (self.stderr if format == "json" else self.stdout).write(hint)

    def _progress(self, count, report, verbosity):
        if verbosity < 1:
            return
        failed = sum(row["status"] == "failed" for row in report.rows)
        state = "ok" if not failed else f"{failed} failed"
        self.stderr.write(f"[{count}] {report.name} ({report.connection_id}): {len(report.rows)} syncs, {state}")

    def _connections(self, ids, all_connections, account):
        if all_connections:
            qs = Connection.objects.exclude(status=Connection.Status.DISCONNECTED).order_by("created_at", "pk")
            if account is not None:
                qs = qs.filter(pk=account.connection_id)
            return list(qs.select_related("owner"))
        if not ids:
            if account is None:
                raise _usage("give --connection ID, --all-connections or --account ID")
            return [account.connection]
        wanted = [_uuid(value, "--connection") for value in ids]
        found = {c.pk: c for c in Connection.objects.filter(pk__in=wanted).select_related("owner")}
        for pk in wanted:
            if pk not in found:
                raise _usage(f"unknown connection {pk}")
        if account is not None and any(pk != account.connection_id for pk in wanted):
            raise _usage(f"account {account.pk} does not belong to the given connection")
        return [found[pk] for pk in dict.fromkeys(wanted)]

    def _report(self, report, verbosity):
        if verbosity < 1:
            return
        self.stdout.write(self.style.MIGRATE_HEADING(f"{report.name} ({report.provider}, {report.connection_id})"))
        for row in report.rows:
            label = row["command"] + (f" [{row['account_id'][:8]}]" if row["command"] == "holdings" else "")
            level, text = describe_row(row, labelled=True)
            self.stdout.write(getattr(self.style, STYLES[level])(f"  {label:<24} {text}"))
