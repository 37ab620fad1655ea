"""`manage.py connect` and `manage.py sync`: output, JSON shape and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sync.models import Connection, Transaction
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.sync.helpers import set_config

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
WINDOW = ["--start-date", "2026-05-01", "--end-date", "2026-06-15"]
FIELDS = {
    "command",
    "connection_id",
    "account_id",
    "status",
    "reason",
    "created",
    "updated",
    "unchanged",
    "removed",
    "sync_run_id",
}


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), str(error)
    return 0, out.getvalue(), err.getvalue()


def test_connect_demo_prints_the_id(user):
    code, out, _ = run("connect", "demo", "--user", "alice", "--name", "My demo", "--accounts", "4")
    connection = Connection.objects.get(pk=out.strip())
    assert code == 0 and connection.name == "My demo" and connection.config["accounts"] == 4
    code, out, _ = run("connect", "demo", "--user", "alice", "--format", "json")
    assert Connection.objects.filter(pk=json.loads(out)["id"]).exists()


@pytest.mark.parametrize(
    "args",
    [
        ("connect", "demo", "--user", "nobody"),
        ("connect", "demo", "--user", "alice", "--accounts", "many"),
        ("connect", "demo", "--user", "alice", "--accounts", "0"),
    ],
)
def test_connect_bad_usage(user, args):
    code, _, message = run(*args)
    assert code == 2 and message


def test_sync_all_json_then_forced_resync(demo_connection):
    code, out, _ = run("sync", "all", "--connection", str(demo_connection.pk), "--format", "json", *WINDOW)
    first = json.loads(out)
    assert code == 0
    assert [r["command"] for r in first] == ["accounts", "transactions", "holdings"]
    assert all(set(r) >= FIELDS for r in first)
    assert all(r["status"] == "succeeded" and r["created"] > 0 for r in first)

    code, out, _ = run("sync", "all", "--connection", str(demo_connection.pk), "--format", "json", "--force", *WINDOW)
    second = json.loads(out)
    assert code == 0
    assert all(r["created"] == 0 and r["updated"] == 0 and r["unchanged"] > 0 for r in second)


def test_sync_text_output_and_skip(demo_connection):
    code, out, _ = run("sync", "accounts", "--connection", str(demo_connection.pk))
    assert code == 0 and "3 created" in out
    code, out, _ = run("sync", "accounts", "--connection", str(demo_connection.pk))
    assert code == 0 and "skipped: synced less than a minute ago" in out
    assert "1 syncs: 0 ok, 1 skipped, 0 failed" in out  # a skip is not counted as ok
    # A fleet run only takes connections that are due: nothing is.
    code, out, _ = run("sync", "accounts", "--all-connections")
    assert code == 0 and "0 syncs" in out


def test_sync_one_account_and_user_option(demo_connection, staff_syncer):
    run("sync", "accounts", "--connection", str(demo_connection.pk))
    card = demo_connection.accounts.get(subtype="credit card")
    code, out, _ = run(
        "sync", "transactions", "--account", str(card.pk), "--user", "operator", "--format", "json", *WINDOW
    )
    assert code == 0 and json.loads(out)[0]["account_id"] == str(card.pk)
    assert set(Transaction.objects.values_list("account", flat=True)) == {card.pk}


def test_failed_sync_exits_1(demo_connection):
    Connection.objects.filter(pk=demo_connection.pk).update(status="needs_reauth")
    code, out, message = run("sync", "all", "--connection", str(demo_connection.pk), "--format", "json")
    assert code == 1 and "failed" in message
    rows = json.loads(out)
    assert len(rows) == 1  # a connection needing re-authentication stops after the first failure
    assert (rows[0]["status"], rows[0]["reason"]) == ("failed", "reauth_required")


def test_partial_failure_still_reports_everything(user, demo_connection, flaky_provider):
    from tests.factories import ConnectionFactory

    broken = ConnectionFactory(owner=user, provider="flaky", name="Broken")
    set_config(broken, fail="transactions")
    code, out, _ = run("sync", "all", "--all-connections", "--format", "json", *WINDOW)
    rows = json.loads(out)
    assert code == 1
    assert {(r["connection_id"], r["command"], r["status"]) for r in rows} >= {
        (str(demo_connection.pk), "transactions", "succeeded"),
        (str(broken.pk), "transactions", "failed"),
        (str(broken.pk), "holdings", "succeeded"),
    }


@pytest.mark.parametrize(
    "args",
    [
        ("sync", "accounts", "--connection", "not-a-uuid"),
        ("sync", "accounts", "--connection", "5b0c3a9e-0000-4000-8000-000000000000"),
        ("sync", "transactions", "--connection", "{pk}", "--start-date", "2026-13-01"),
        ("sync", "transactions", "--connection", "{pk}", "--start-date", "2026-06-02", "--end-date", "2026-06-01"),
        ("sync", "transactions", "--connection", "{pk}", "--start-date", "2020-01-01", "--end-date", "2026-06-01"),
        ("sync", "transactions", "--connection", "{pk}", "--start-date", "0001-01-01"),
        ("sync", "all", "--connection", "{pk}", "--end-date", "9999-12-31"),
        ("sync", "accounts"),
        ("sync", "accounts", "--connection", "{pk}", "--user", "nobody"),
        ("sync", "holdings", "--account", "5b0c3a9e-0000-4000-8000-000000000000"),
    ],
)
def test_sync_bad_usage_exits_2(demo_connection, args):
    args = [a.replace("{pk}", str(demo_connection.pk)) for a in args]
    code, _, message = run(*args)
    assert code == 2
    assert "\n" not in message.strip()


@pytest.mark.slow
def test_real_process_exit_codes(tmp_path, live_database_url):
    """The commands as an operator runs them: a separate process, exit codes, stdout."""
    env = {**os.environ, "DATABASE_URL": live_database_url, "FINSYNC_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY}

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    assert manage("migrate", "-v", "0").returncode == 0
    manage("shell", "-c", "from django.contrib.auth.models import User; User.objects.create_user('carol')")
    connected = manage("connect", "demo", "--user", "carol")
    assert connected.returncode == 0, connected.stderr
    pk = connected.stdout.strip()
    first = manage("sync", "all", "--connection", pk, "--format", "json")
    assert first.returncode == 0, first.stderr
    assert sum(r["created"] for r in json.loads(first.stdout)) > 0
    again = manage("sync", "all", "--connection", pk, "--format", "json", "--force")
    assert again.returncode == 0
    assert all(r["created"] == 0 and r["updated"] == 0 for r in json.loads(again.stdout))
    bad = manage("sync", "transactions", "--connection", pk, "--start-date", "yesterday")
    assert bad.returncode == 2 and "not a date" in bad.stderr
    assert manage("sync", "accounts", "--connection", pk, "--bogus").returncode == 2


def test_json_usage_errors_are_json_and_dates_say_which_range(demo_connection):
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command(
            "sync", "transactions", "--connection", str(demo_connection.pk), "--start-date", "1960-01-01",
            "--format", "json", stdout=out,
        )  # fmt: skip
    assert raised.value.returncode == 2
    error = json.loads(out.getvalue())["error"]
    assert error["code"] == "usage"
    assert "must not be before 1970-01-01" in error["message"] and "asked for 1960-01-01" in error["message"]


def test_connect_says_what_to_do_next_and_help_shows_examples(user, capsys):
    code, out, err = run("connect", "demo", "--user", "alice")
    assert code == 0 and err.strip() == f"Next: manage.py sync all --connection {out.strip()}"
    code, out, err = run("connect", "demo", "--user", "alice", "-v", "0")
    assert code == 0 and err == ""
    for command in ("sync", "connect"):
        with pytest.raises(SystemExit):
            call_command(command, "--help")
        shown = capsys.readouterr().out
        assert "examples:" in shown and "exit status: 0" in shown
