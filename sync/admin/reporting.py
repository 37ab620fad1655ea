"""Turn sync results and errors into admin messages, one message per sync (texts: sync.rendering)."""

from __future__ import annotations

from django.contrib import messages

from sync.models import Account
from sync.rendering import describe_error, describe_row
from sync.services.connection_sync import SyncOutcome

LEVELS = {"success": messages.SUCCESS, "info": messages.INFO, "warning": messages.WARNING, "error": messages.ERROR}


def report(request, modeladmin, target: str, command: str, *, result=None, error=None) -> None:
    """One admin message for one sync: success, skip (a warning tagged `skipped`), warnings or failure."""
    if error is not None:
        modeladmin.message_user(request, f"{target}: {describe_error(command, error)}", messages.ERROR)
        return
    row = result.as_dict()
    level, text = describe_row(row)
    # A skip is a warning with its own look (admin.css `li.skipped`): nothing was fetched.
    extra_tags = "skipped" if row["status"] == "skipped" else ""
    modeladmin.message_user(request, f"{target}: {text}", LEVELS[level], extra_tags=extra_tags)


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
