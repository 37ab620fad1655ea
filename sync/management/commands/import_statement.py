"""`manage.py import_statement FILE [FILE ...] --user U [--connection ID] [--name NAME] [--force] [--format json]`.

Imports OFX/QFX statement files into a statement-file connection of the user:
the one given, else the user's (not disconnected) one named NAME (default
"Statement files"), created on first use. Exit status as `sync`: 0 when every
import succeeded or was skipped, 1 when any failed, 2 on bad usage (unknown
user or connection, a file that cannot be read).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sync.commands import ImportStatement
from sync.errors import SyncError
from sync.models import Connection
from sync.rendering import describe_row
from sync.services.connection_sync import SyncOutcome
from sync.services.connections import create_connection
from sync.services.handlers import import_statement

STYLES = {"success": "SUCCESS", "info": "WARNING", "warning": "WARNING", "error": "ERROR"}
DEFAULT_NAME = "Statement files"


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Import OFX/QFX statement files (bank, credit card, brokerage) into a statement-file connection."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="OFX or QFX files, imported in order.")
        parser.add_argument("--user", required=True, help="The user whose connection receives the files.")
        parser.add_argument("--connection", metavar="ID", help="The statement-file connection (default: by --name).")
        parser.add_argument(
            "--name", default="", help=f"The connection's name, created on first use (default {DEFAULT_NAME!r})."
        )
        parser.add_argument("--force", action="store_true", help="Import even files imported already.")
        parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format.")

    def handle(self, *args, files, user, connection, name, force, format, **options):
        owner = get_user_model().objects.filter(username=user, is_active=True).first()
        if owner is None:
            raise _usage(f"unknown user {user!r}")
        contents = [(Path(path).name, self._read(path)) for path in files]
        target = self._connection(owner, connection, name)
        rows = []
        for filename, content in contents:
            command = ImportStatement(
                connection_id=target.pk, user_id=owner.pk, filename=filename, content=content, force=force
            )
            try:
                result = import_statement(command, source="cli")
                outcome = SyncOutcome(command="statement", connection_id=target.pk, account_id=None, result=result)
            except SyncError as error:
                outcome = SyncOutcome(command="statement", connection_id=target.pk, account_id=None, error=error)
            row = outcome.as_dict()
            rows.append(row)
            if format == "text" and options["verbosity"] >= 1:
                level, text = describe_row(row, labelled=True)
                self.stdout.write(getattr(self.style, STYLES[level])(f"  {filename:<32} {text}"))
        if format == "json":
            self.stdout.write(json.dumps(rows, indent=2))
        failed = sum(row["status"] == "failed" for row in rows)
        if format == "text" and options["verbosity"] >= 1:
            self.stdout.write(f"{len(rows)} files: {len(rows) - failed} ok, {failed} failed")
        if failed:
            raise CommandError(f"{failed} of {len(rows)} imports failed", returncode=1)

    def _read(self, path: str) -> bytes:
        limit = settings.FINSYNC_MAX_STATEMENT_BYTES
        try:
            with open(path, "rb") as handle:
                return handle.read(limit + 1)  # one byte over is enough for the import to refuse it
        except OSError as error:
            raise _usage(f"cannot read {path}: {error.strerror}") from None

    def _connection(self, owner, connection_id: str | None, name: str) -> Connection:
        if connection_id:
            try:
                pk = uuid.UUID(connection_id)
            except ValueError:
                raise _usage(f"--connection {connection_id!r} is not a valid id") from None
            found = Connection.objects.filter(pk=pk).first()
            if found is None:
                raise _usage(f"unknown connection {connection_id}")
            return found  # ownership and the provider are checked by the import itself
        name = name.strip() or DEFAULT_NAME
        found = (
            Connection.objects.filter(owner=owner, provider="ofx", name=name)
            .exclude(status=Connection.Status.DISCONNECTED)
            .order_by("created_at")
            .first()
        )
        if found is not None:
            return found
        try:
            return create_connection(owner=owner, provider="ofx", name=name, options={}, actor=owner, source="cli")
        except SyncError as error:
            raise _usage(error.message) from None
