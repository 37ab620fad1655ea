"""One renderer of sync outcomes, for every interface that prints them.

The admin's messages, `manage.py sync` and `manage.py demo` all describe a
sync the same way: "Synced 2,427 transactions: 2,427 created", "Skipped
accounts: synced 2 minutes ago (...)", "Transactions sync failed: Needs
re-authentication (...)". Each interface only adds where it prints (a message
level, a terminal style) and what it names (the connection, the account).
They work on the row shape of `SyncResult.as_dict()` / `SyncOutcome.as_dict()`,
which worker processes also send as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sync.errors import SyncError
from sync.results import SyncResult

Level = Literal["success", "info", "warning", "error"]

# What a reader sees for each error code (the handler's message follows).
ERROR_TITLES = {
    "not_found": "Not found",
    "validation_error": "Invalid request",
    "connection_inactive": "Disconnected",
    "reauth_required": "Needs re-authentication",
    "sync_in_progress": "Already syncing",
    "provider_rate_limited": "Rate limited by the provider",
    "provider_unavailable": "Provider unavailable",
    "provider_bad_response": "Bad response from the provider",
    "credentials_invalid": "Credentials rejected by the provider",
}
# Accounts and holdings the provider stops reporting go inactive; transactions are removed.
REMOVED_LABEL = {
    "accounts": "deactivated",
    "transactions": "removed",
    "holdings": "deactivated",
    "statement": "removed",
}
SINGULAR = {"accounts": "account", "transactions": "transaction", "holdings": "holding", "statement": "record"}
# A statement import counts accounts, transactions and holdings together: records.
PLURAL = {"statement": "records"}
VERB = {"statement": "Imported"}


def describe_row(row: Mapping, *, retry_after: int | None = None, labelled: bool = False) -> tuple[Level, str]:
    """The level and the text of one sync outcome, given as a result row.

    `labelled`: the caller prints the command as a label of its own (the CLI's
    column), so the text leaves it out: "skipped: ...", "succeeded: 3 created, 0 updated, ...",
    "failed (reauth_required): ...", each followed by the run's duration when the row
    has one ("... (0.4 s)", `duration_seconds`).
    """
    level, text = _describe(row, retry_after=retry_after, labelled=labelled)
    if labelled and row.get("duration_seconds") is not None:
        text += f" ({row['duration_seconds']:.1f} s)"
    return level, text


def _describe(row: Mapping, *, retry_after: int | None, labelled: bool) -> tuple[Level, str]:
    command, status = row["command"], row["status"]
    if status == "failed":
        if labelled:  # a terminal: the machine-readable code, for scripts that grep
            return "error", f"failed ({row['reason']}): {row['message']}"
        return (
            "error",
            f"{command.capitalize()} sync failed: {_failure_text(row['reason'], row['message'], retry_after)}",
        )
    if status == "skipped":  # nothing was fetched: a warning, never a success
        return "warning", (f"skipped: {row['message']}" if labelled else f"Skipped {command}: {row['message']}")
    total = row["created"] + row["updated"] + row["unchanged"]
    parts = [
        f"{row[key]:,} {label}"
        for key, label in (
            ("created", "created"),
            ("updated", "updated"),
            ("unchanged", "unchanged"),
            ("removed", REMOVED_LABEL[command]),
        )
        if row[key]
    ]
    if labelled:  # a terminal column: every count, always in the same place
        text = "succeeded: " + ", ".join(f"{row[key]} {key}" for key in ("created", "updated", "unchanged", "removed"))
    else:
        noun = SINGULAR[command] if total == 1 else PLURAL.get(command, command)
        text = f"{VERB.get(command, 'Synced')} {total:,} {noun}"
        if parts:
            text += ": " + ", ".join(parts)
    if row["warnings"]:
        text += ". Warnings: " + "; ".join(row["warnings"])
    return ("warning" if row["warnings"] else "success"), text


def describe_result(result: SyncResult) -> str:
    """'Synced 3 accounts: 1 created, 2 updated' or 'Skipped accounts: synced 2 minutes ago (...)'."""
    return describe_row(result.as_dict())[1]


def describe_error(command: str, error: SyncError) -> str:
    """'Transactions sync failed: Needs re-authentication (the connection needs ...)'."""
    return f"{command.capitalize()} sync failed: {_failure_text(error.code, error.message, error.retry_after)}"


def _failure_text(code: str, message: str, retry_after: int | None) -> str:
    text = f"{ERROR_TITLES.get(code, 'Failed')} ({message})"
    if retry_after is not None:
        text += f"; retry in {retry_after} seconds"
    return text
