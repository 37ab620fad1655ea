"""`manage.py import_statement`: creates the file connection on first use, imports, exits like `sync`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sync.models import Connection, Transaction
from tests.providers.ofx_helpers import CARD, CHECKING, SAMPLES

pytestmark = pytest.mark.django_db


def run(*args) -> list[dict]:
    out = StringIO()
    call_command("import_statement", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_first_use_creates_the_connection_then_reuses_it(user):
    rows = run(str(SAMPLES / CHECKING), str(SAMPLES / CARD), "--user", "alice")

    assert [(r["command"], r["status"]) for r in rows] == [("statement", "succeeded")] * 2
    connection = Connection.objects.get(owner=user)
    assert (connection.provider, connection.name) == ("ofx", "Statement files")
    assert Transaction.objects.count() == 12

    again = run(str(SAMPLES / CHECKING), "--user", "alice")
    assert (again[0]["status"], again[0]["reason"]) == ("skipped", "already_imported")
    assert Connection.objects.filter(owner=user).count() == 1


def test_a_bad_file_exits_1_and_bad_usage_exits_2(user, tmp_path):
    bad = tmp_path / "export.csv"
    bad.write_text("Date,Amount\n")
    with pytest.raises(CommandError) as failed:
        call_command("import_statement", str(bad), "--user", "alice", stdout=StringIO())
    assert failed.value.returncode == 1
    with pytest.raises(CommandError) as missing:
        call_command("import_statement", str(tmp_path / "nope.ofx"), "--user", "alice", stdout=StringIO())
    assert missing.value.returncode == 2
    with pytest.raises(CommandError) as unknown:
        call_command("import_statement", str(bad), "--user", "nobody", stdout=StringIO())
    assert unknown.value.returncode == 2


def test_another_users_connection_fails_not_found(user, other_user):
    run(str(SAMPLES / CHECKING), "--user", "alice")
    connection = Connection.objects.get(owner=user)
    with pytest.raises(CommandError) as failed:
        call_command(
            "import_statement",
            str(SAMPLES / CARD),
            "--user",
            "bob",
            "--connection",
            str(connection.pk),
            stdout=StringIO(),
        )
    assert failed.value.returncode == 1
    assert Transaction.objects.count() == 4
