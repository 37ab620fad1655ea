"""`manage.py demo`: a demo user and demo connection, a full sync, and a summary."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from sync.errors import SyncError
from sync.models import Account, Connection
from sync.rendering import describe_row
from sync.services.connection_sync import sync_connection
from sync.services.connections import create_connection
from sync.services.runs import with_durations


class Command(BaseCommand):
    help = "Create the demo user and a demo connection (once), sync everything, and print a summary."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo", help="Demo user name (default: demo).")
        parser.add_argument("--force", action="store_true", help="Sync even if synced recently.")

    def handle(self, *args, username, force, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
        connection = Connection.objects.filter(owner=user, provider="demo").order_by("created_at").first()
        if connection is None:
            try:
                connection = create_connection(
                    owner=user, provider="demo", name="Demo bank", options={}, actor=user, source="cli"
                )
            except SyncError as error:
                raise CommandError(f"{error.code}: {error.message}") from None
        outcomes = sync_connection(connection_id=connection.pk, user_id=user.pk, force=force, source="cli")

        self.stdout.write(self.style.MIGRATE_HEADING(f"Synced {connection.name} ({connection.pk})"))
        for outcome, row in zip(outcomes, with_durations([o.as_dict() for o in outcomes]), strict=True):
            level, text = describe_row(row, retry_after=outcome.error and outcome.error.retry_after, labelled=True)
            line = f"  {outcome.command:<13} {text}"
            self.stdout.write(self.style.ERROR(line) if level == "error" else line)
        self.stdout.write(self.style.MIGRATE_HEADING("Accounts"))
        accounts = Account.objects.filter(connection=connection).annotate(
            n_transactions=Count("transactions", filter=Q(transactions__is_removed=False), distinct=True),
            n_holdings=Count("holdings", filter=Q(holdings__is_active=True), distinct=True),
        )
        for account in accounts:
            self.stdout.write(
                f"  {account.name:<26} {account.type:<11} {account.balance or 0:>14,.2f} {account.currency}"
                f"  {account.n_transactions:>4} transactions  {account.n_holdings:>2} holdings"
            )
        self.stdout.write("")
        self.stdout.write("Open the admin console: make run, then http://127.0.0.1:8000/admin/")
        if password:
            self.stdout.write(f"  user: {username}   password: {password}   (shown once; change it in the admin)")
        else:
            self.stdout.write(f"  user: {username} (reset the password with: manage.py changepassword {username})")
        if any(outcome.failed for outcome in outcomes):
            raise CommandError("some syncs failed", returncode=1)
