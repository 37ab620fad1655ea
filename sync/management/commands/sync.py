"""`manage.py sync {accounts,transactions,holdings,all} ...`: run syncs and report them.

Exit status: 0 when every sync succeeded or was skipped, 1 when any failed,
2 on bad usage (unknown id, bad date, start after end).
"""

from __future__ import annotations

import json
import uuid
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sync.batch import sync_connection
from sync.models import Account, Connection

KINDS = {
    "accounts": ("accounts",),
    "transactions": ("transactions",),
    "holdings": ("holdings",),
    "all": ("accounts", "transactions", "holdings"),
}


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
        target.add_argument("--all-connections", action="store_true", help="Every connection that is not disconnected.")
        parser.add_argument("--account", metavar="ID", help="Only this account (transactions, holdings).")
        parser.add_argument("--start-date", metavar="YYYY-MM-DD", help="Transactions window start (inclusive).")
        parser.add_argument("--end-date", metavar="YYYY-MM-DD", help="Transactions window end (inclusive).")
        parser.add_argument("--force", action="store_true", help="Sync even if synced recently.")
        parser.add_argument("--user", help="Act as this user (default: each connection's owner).")
        parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format.")

    def handle(
        self, *args, what, connection, all_connections, account, start_date, end_date, force, user, format, **options
    ):
        start, end = _date(start_date, "--start-date"), _date(end_date, "--end-date")
        if start and end and start > end:
            raise _usage("--start-date is after --end-date")
        if start and end and (end - start).days + 1 > settings.FINSYNC_MAX_SYNC_DAYS:
            raise _usage(f"the window is longer than {settings.FINSYNC_MAX_SYNC_DAYS} days")
        account_obj = None
        if account:
            account_obj = Account.objects.filter(pk=_uuid(account, "--account")).first()
            if account_obj is None:
                raise _usage(f"unknown account {account}")
            if what == "accounts":
                raise _usage("--account does not apply to 'sync accounts'")
        connections = self._connections(connection, all_connections, account_obj)
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise _usage(f"unknown user {user!r}")

        outcomes = []
        for conn in connections:
            outcomes += sync_connection(
                connection_id=conn.pk,
                user_id=actor.pk if actor else conn.owner_id,
                kinds=KINDS[what],
                force=force,
                start_date=start,
                end_date=end,
                account_id=account_obj.pk if account_obj else None,
                source="cli",
            )
            if format == "text":
                self._report(conn, [o for o in outcomes if o.connection_id == conn.pk], options["verbosity"])
        if format == "json":
            self.stdout.write(json.dumps([o.as_dict() for o in outcomes], indent=2))
        failed = sum(o.failed for o in outcomes)
        if format == "text" and options["verbosity"] >= 1:
            self.stdout.write(f"{len(outcomes)} syncs: {len(outcomes) - failed} ok, {failed} failed")
        if failed:
            raise CommandError(f"{failed} of {len(outcomes)} syncs failed", returncode=1)

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

    def _report(self, connection, outcomes, verbosity):
        if verbosity < 1:
            return
        self.stdout.write(self.style.MIGRATE_HEADING(f"{connection.name} ({connection.provider}, {connection.pk})"))
        for outcome in outcomes:
            row = outcome.as_dict()
            label = outcome.command + (f" [{row['account_id'][:8]}]" if outcome.command == "holdings" else "")
            if outcome.failed:
                self.stdout.write(self.style.ERROR(f"  {label:<24} failed ({row['reason']}): {row['message']}"))
            elif row["status"] == "skipped":
                self.stdout.write(self.style.WARNING(f"  {label:<24} skipped: {row['message']}"))
            else:
                counts = ", ".join(f"{row[k]} {k}" for k in ("created", "updated", "unchanged", "removed"))
                self.stdout.write(self.style.SUCCESS(f"  {label:<24} succeeded: {counts}"))
                for warning in row["warnings"]:
                    self.stdout.write(self.style.WARNING(f"    warning: {warning}"))
