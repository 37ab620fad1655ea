"""The SQLite half of the audit log's append-only guard (migration 0003).

SQLite triggers cannot read session settings, so the DELETE trigger asks a
function registered on every SQLite connection: `finsync_audit_purge_allowed()`
is 0 unless a deliberate purge runs inside `audit_purge_allowed()` (the test
suite's flush between transactional tests; a retention job if one is written).
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager

_state = threading.local()
_allowed_everywhere = False  # set only by the test suite, for its flushes


def _purge_allowed() -> int:
    return int(_allowed_everywhere or getattr(_state, "allowed", False))


@contextmanager
def audit_purge_allowed():
    """Within this block, this thread's SQLite connections may delete audit rows."""
    _state.allowed = True
    try:
        yield
    finally:
        _state.allowed = False


def allow_purge_everywhere(allowed: bool) -> None:
    global _allowed_everywhere
    _allowed_everywhere = allowed


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Per SQLite connection: the audit guard's function, and the real variable limit."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("finsync_audit_purge_allowed", 0, _purge_allowed)
    # Django assumes SQLite's pre-3.32 limit of 999 variables per statement,
    # which cuts bulk writes into ~60-row statements; 3.32+ allows 32766.
    if sqlite3.sqlite_version_info >= (3, 32, 0):
        connection.features.max_query_params = 32766
