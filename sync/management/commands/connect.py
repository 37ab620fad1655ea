"""`manage.py connect PROVIDER --user USERNAME [--name NAME] [provider options]`."""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables

from providers.registry import get_provider_class, provider_slugs
from sync.errors import SyncError
from sync.services import oauth
from sync.services.connections import create_connection, reconnect_connection


def _provider_fields():
    """Every provider's connect fields, as (option name, field, providers that take it)."""
    fields: dict[str, tuple] = {}
    for slug in provider_slugs():
        for field in get_provider_class(slug).connect_fields:
            option = "--" + field.name.replace("_", "-")
            known = fields.get(option)
            fields[option] = (field, (known[1] if known else ()) + (slug,))
    return fields


STDIN = "-"  # a secret option given as "-" is read from standard input


def _read_stdin_secrets(stdin, given: dict, secret_names: list[str]) -> None:
    """Replace each secret given as "-" by the next line of `stdin`, in the order of the provider's fields.

    Secrets on a command line end up in `ps` and in shell history; from standard input they do not.
    """
    for name in secret_names:
        if given.get(name) != STDIN:
            continue
        line = stdin.readline()
        if not line:
            option = "--" + name.replace("_", "-")
            raise CommandError(f"{option} is '-' but standard input has no line for it", returncode=2)
        given[name] = line.rstrip("\r\n")


EPILOG = """\
examples:
  manage.py connect demo --user alice                      synthetic data, every option defaulted
  manage.py connect simplefin --user alice --setup-token - (the token read from stdin)
  ID=$(manage.py connect demo --user alice) && manage.py sync all --connection "$ID"

secrets given as '-' are read from standard input, so they stay out of the shell history.
output: the new connection's id on stdout (--format json: id, provider, name, owner); the next
step on stderr.
exit status: 0 connected; 2 bad usage or refused inputs (unknown user, invalid or rejected
credentials).
"""


class Command(BaseCommand):
    help = "Connect a user to a provider and print the new connection's id."

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=provider_slugs(), help="Provider slug.")
        parser.add_argument("--user", required=True, help="Username of the connection's owner.")
        parser.add_argument("--name", default="", help="Display name of the connection.")
        parser.add_argument("--format", choices=("text", "json"), default="text", help="Output format.")
        parser.add_argument(
            "--reconnect",
            metavar="ID",
            default=None,
            help="Give this connection of the user new credentials (same id, accounts and history).",
        )
        parser.add_argument(
            "--redirected-url",
            default=None,
            help="OAuth providers (schwab): the whole URL the browser landed on after the login; finishes the "
            "connection. Without it the command prints the URL to open.",
        )
        for option, (field, slugs) in _provider_fields().items():
            # Secrets accept "-": one line of standard input each, so they stay out of `ps` and history.
            hint = " Give - to read it from standard input (one line per such option)." if field.secret else ""
            parser.add_argument(option, dest=field.name, default=None, help=f"{field.help} ({', '.join(slugs)}).{hint}")

    @method_decorator(sensitive_variables("options", "given"))
    def handle(self, *args, provider, user, name, format, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"unknown user {user!r}", returncode=2)
        accepted = {field.name for field in get_provider_class(provider).connect_fields}
        given = {key: value for key, value in options.items() if value is not None and key in _all_field_names()}
        stray = sorted(set(given) - accepted)
        if stray:
            names = ", ".join("--" + s.replace("_", "-") for s in stray)
            raise CommandError(f"{names} does not apply to the {provider} provider", returncode=2)
        fields = get_provider_class(provider).connect_fields
        _read_stdin_secrets(options.get("stdin") or sys.stdin, given, [f.name for f in fields if f.secret])
        if get_provider_class(provider).oauth or options.get("reconnect") or options.get("redirected_url"):
            return self._oauth_or_reconnect(provider, owner, name, format, given, options)
        try:
            # An operator on the server: the wide bounds (demo sizes for benchmarks).
            connection = create_connection(
                owner=owner, provider=provider, name=name, options=given, actor=owner, source="cli", wide_bounds=True
            )
        except SyncError as error:
            problems = [f"{_option(field)}: {'; '.join(messages)}" for field, messages in error.fields.items()] or [
                error.message
            ]
            raise CommandError(f"{error.code}: {'; '.join(problems)}", returncode=2) from None
        if format == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "id": str(connection.pk),
                        "provider": connection.provider,
                        "name": connection.name,
                        "owner": owner.get_username(),
                    }
                )
            )
        else:
            if options.get("verbosity", 1) >= 2:
                self.stderr.write(f"Connected {owner.get_username()} to {connection.provider}: {connection.name}")
            self.stdout.write(str(connection.pk))
            if options.get("verbosity", 1) >= 1:
                # On stderr: stdout stays the bare id for `ID=$(manage.py connect ...)`.
                self.stderr.write(f"Next: manage.py sync all --connection {connection.pk}")

    def _oauth_or_reconnect(self, provider, owner, name, format, given, options) -> None:
        """`--reconnect ID` and the OAuth flow: print the authorize URL, or finish with `--redirected-url`."""
        reconnect, redirected = options.get("reconnect"), options.get("redirected_url")
        is_oauth = get_provider_class(provider).oauth
        if redirected and not is_oauth:
            raise CommandError(f"--redirected-url does not apply to the {provider} provider", returncode=2)
        try:
            if redirected:
                state, code, error = oauth.callback_parameters(redirected)
                connection = oauth.finish_authorization(
                    state=state, code=code, error=error, expected_user=owner, provider=provider, source="cli"
                )
                self.stdout.write(json.dumps({"id": str(connection.pk)}) if format == "json" else str(connection.pk))
                return
            if reconnect:
                outcome = reconnect_connection(
                    connection_id=_uuid_or_error(reconnect), user=owner, options=given, source="cli"
                )
            else:
                outcome = oauth.start_authorization(user=owner, provider=provider, name=name, source="cli")
        except SyncError as error:
            problems = [f"{_option(field)}: {'; '.join(messages)}" for field, messages in error.fields.items()] or [
                error.message
            ]
            raise CommandError(f"{error.code}: {'; '.join(problems)}", returncode=2) from None
        if isinstance(outcome, oauth.AuthorizeStart):
            if format == "json":
                self.stdout.write(json.dumps({"authorize_url": outcome.authorize_url, "state": outcome.state}))
            else:
                minutes = int((outcome.expires_at - timezone.now()).total_seconds()) // 60
                self.stderr.write(
                    "Open this URL, log in, then run this command again with --redirected-url and the whole "
                    f"address the browser landed on (within {minutes} minutes):"
                )
                self.stdout.write(outcome.authorize_url)
            return
        self.stdout.write(json.dumps({"id": str(outcome.pk)}) if format == "json" else str(outcome.pk))


def _uuid_or_error(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"--reconnect: {value!r} is not a connection id", returncode=2) from None


def _option(field: str) -> str:
    """A service field name (`credentials.access_url`, `name`) as the command's option (`--access-url`)."""
    return "--" + field.removeprefix("credentials.").replace("_", "-")


def _all_field_names() -> set[str]:
    return {field.name for field, _ in _provider_fields().values()}
