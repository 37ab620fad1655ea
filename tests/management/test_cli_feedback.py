"""What `manage.py sync` and `manage.py demo` tell the person at the terminal: durations, hints, progress."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import termios
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sync.models import SyncRun

pytestmark = pytest.mark.django_db
WINDOW = ["--start-date", "2026-05-01", "--end-date", "2026-06-15"]
DURATION = re.compile(r" \((\d+\.\d) s\)$")


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def test_json_results_carry_their_runs_duration(demo_connection):
    code, out, _ = run("sync", "all", "--connection", str(demo_connection.pk), "--format", "json", *WINDOW)
    rows = json.loads(out)
    assert code == 0 and rows
    for row in rows:
        run_ = SyncRun.objects.get(pk=row["sync_run_id"])
        assert row["duration_seconds"] == pytest.approx(run_.duration.total_seconds(), abs=0.001)
        assert row["duration_seconds"] >= 0


def test_each_text_result_line_ends_with_its_duration(demo_connection):
    code, out, _ = run("sync", "all", "--connection", str(demo_connection.pk), *WINDOW)
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert code == 0 and [line.split()[0] for line in lines] == ["accounts", "transactions", "holdings"]
    assert all(DURATION.search(line) for line in lines), lines
    # A skip and a failure are runs too: they say how long they took.
    code, out, _ = run("sync", "accounts", "--connection", str(demo_connection.pk))
    assert "skipped: " in out and DURATION.search(out.splitlines()[1])
    demo_connection.__class__.objects.filter(pk=demo_connection.pk).update(status="needs_reauth")
    code, out, _ = run("sync", "accounts", "--connection", str(demo_connection.pk))
    assert code == 1 and "failed (reauth_required)" in out and DURATION.search(out.splitlines()[1])


def test_demo_command_lines_give_durations(db):
    code, out, _ = run("demo", "--username", "demo-timed")
    lines = [line for line in out.splitlines() if line.startswith("  ") and "succeeded:" in line]
    assert code == 0 and len(lines) >= 3
    assert all(DURATION.search(line) for line in lines), lines


def test_all_connections_says_how_many_were_not_due_and_how_to_force(demo_connection):
    run("sync", "accounts", "--connection", str(demo_connection.pk))
    code, out, err = run("sync", "accounts", "--all-connections")
    assert code == 0 and "0 syncs" in out
    assert "1 connection was not due (synced within the last 300 seconds" in out and "--force" in out
    # JSON: the array is unchanged, the hint goes to stderr.
    code, out, err = run("sync", "accounts", "--all-connections", "--format", "json")
    assert code == 0 and json.loads(out) == []
    assert "1 connection was not due" in err and "--force" in err
    # Quiet, or forced (then nothing is left out): no hint.
    code, out, err = run("sync", "accounts", "--all-connections", "-v", "0")
    assert "not due" not in out + err
    code, out, err = run("sync", "accounts", "--all-connections", "--force")
    assert code == 0 and "1 syncs: 1 ok" in out and "not due" not in out + err


def _run_on_terminal(*args) -> tuple[int, str, str]:
    """Run a command with stderr on a pseudo-terminal (what a person at a terminal sees); bounded in time."""
    master, slave = pty.openpty()
    # A terminal 120 columns wide, as a person's is (a new pseudo-terminal has no size).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []

    def drain():  # read as the command writes, so that a full terminal buffer never blocks it
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the other side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = StringIO()
    with os.fdopen(slave, "w") as terminal:
        assert terminal.isatty()
        try:
            call_command(*args, stdout=out, stderr=terminal)
            code = 0
        except CommandError as error:
            code = error.returncode
        terminal.flush()
    reader.join(timeout=10)
    os.close(master)
    assert not reader.is_alive()
    return code, out.getvalue(), b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal_only(demo_connection):
    code, out, err = _run_on_terminal("sync", "all", "--connection", str(demo_connection.pk), *WINDOW)
    assert code == 0 and "3 syncs: 3 ok" in out
    # tqdm's bars: each kind, with pages and rows fetched and applied, and the elapsed time.
    for text in ("accounts", "transactions", "holdings", "pages=1", "fetched=", "applied=", "rows", "00:00"):
        assert text in err, (text, err)
    assert "\r" in err  # drawn in place, not line after line
    # Quiet on a terminal, and any verbosity on a pipe or file: nothing on stderr.
    code, out, err = _run_on_terminal("sync", "all", "--connection", str(demo_connection.pk), "--force", "-v", "0")
    assert code == 0 and out == "" and err == ""
    code, out, err = run("sync", "all", "--connection", str(demo_connection.pk), "--force", *WINDOW)
    assert code == 0 and "3 syncs: 3 ok" in out and err == ""
    code, out, err = run("sync", "all", "--connection", str(demo_connection.pk), "--force", "--format", "json")
    assert code == 0 and json.loads(out) and err == ""
