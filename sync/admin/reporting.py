"""Turn sync results and errors into admin messages, one message per sync."""

from __future__ import annotations

from django.contrib import messages

from sync.errors import SyncError
from sync.models import Account
from sync.results import SyncResult
from sync.services.connection_sync import SyncOutcome

# What a staff member reads for each error code (the handler's message follows).
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
REMOVED_LABEL = {"accounts": "deactivated", "transactions": "removed", "holdings": "deactivated"}
SINGULAR = {"accounts": "account", "transactions": "transaction", "holdings": "holding"}


def describe_result(result: SyncResult) -> str:
    """'Synced 3 accounts: 1 created, 2 updated' or 'Skipped accounts: synced 2 minutes ago (...)'."""
    if result.status == "skipped":
        return f"Skipped {result.command}: {result.message}"
    total = result.created + result.updated + result.unchanged
    noun = SINGULAR[result.command] if total == 1 else result.command
    parts = [
        f"{count} {label}"
        for count, label in (
            (result.created, "created"),
            (result.updated, "updated"),
            (result.unchanged, "unchanged"),
            (result.removed, REMOVED_LABEL[result.command]),
        )
        if count
    ]
    text = f"Synced {total} {noun}"
    if parts:
        text += ": " + ", ".join(parts)
    if result.warnings:
        text += ". Warnings: " + "; ".join(result.warnings)
    return text


def describe_error(command: str, error: SyncError) -> str:
    """'Transactions sync failed: Needs re-authentication (the connection needs ...)'."""
    title = ERROR_TITLES.get(error.code, "Failed")
    text = f"{command.capitalize()} sync failed: {title} ({error.message})"
    if error.retry_after is not None:
        text += f"; retry in {error.retry_after} seconds"
    return text


def report(request, modeladmin, target: str, command: str, *, result=None, error=None) -> None:
    """One admin message for one sync: success, skip (info), warnings or failure."""
    if error is not None:
        modeladmin.message_user(request, f"{target}: {describe_error(command, error)}", messages.ERROR)
        return
    if result.status == "skipped":
        level = messages.INFO
    elif result.warnings:
        level = messages.WARNING
    else:
        level = messages.SUCCESS
    modeladmin.message_user(request, f"{target}: {describe_result(result)}", level)


def report_outcomes(request, modeladmin, target: str, outcomes: list[SyncOutcome]) -> None:
    """Report every outcome of `sync_connection`, naming the account of per-account syncs."""
    if not outcomes:  # a holdings sync of a connection with no investment account known yet
        modeladmin.message_user(request, f"{target}: No accounts with holdings to sync (sync accounts first)")
        return
    account_ids = {o.account_id for o in outcomes if o.account_id is not None}
    labels = {a.pk: str(a) for a in Account.objects.filter(pk__in=account_ids)}
    for outcome in outcomes:
        where = target
        if outcome.command == "holdings" and outcome.account_id in labels:
            where = f"{target} · {labels[outcome.account_id]}"
        report(request, modeladmin, where, outcome.command, result=outcome.result, error=outcome.error)
