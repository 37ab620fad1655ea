"""The wording of the admin's sync messages."""

from __future__ import annotations

import uuid

from sync.errors import ProviderRateLimited, SyncError
from sync.rendering import describe_error, describe_result
from sync.results import SyncResult


def _result(command: str, **counts) -> SyncResult:
    return SyncResult(
        command=command,
        status="succeeded",
        connection_id=uuid.uuid4(),
        account_id=None,
        sync_run_id=uuid.uuid4(),
        **counts,
    )


def test_counts_name_what_changed():
    assert describe_result(_result("accounts", created=1, updated=2)) == "Synced 3 accounts: 1 created, 2 updated"
    assert describe_result(_result("accounts", unchanged=1)) == "Synced 1 account: 1 unchanged"
    assert describe_result(_result("transactions", unchanged=4, removed=2)) == (
        "Synced 4 transactions: 4 unchanged, 2 removed"
    )
    assert describe_result(_result("holdings", removed=1)) == "Synced 0 holdings: 1 deactivated"


def test_warnings_are_appended():
    result = _result("holdings", warnings=["the Demo provider does not report holdings"])
    assert describe_result(result) == "Synced 0 holdings. Warnings: the Demo provider does not report holdings"


def test_errors_have_a_title_and_the_retry_delay():
    error = ProviderRateLimited("slow down", retry_after=30)
    assert describe_error("transactions", error) == (
        "Transactions sync failed: Rate limited by the provider (slow down); retry in 30 seconds"
    )
    unknown = SyncError("internal error: KeyError")
    assert describe_error("accounts", unknown) == "Accounts sync failed: Failed (internal error: KeyError)"


def test_counts_group_thousands_and_a_skip_is_a_warning():
    from sync.rendering import describe_row

    assert describe_result(_result("transactions", created=2427)) == "Synced 2,427 transactions: 2,427 created"
    skip = {**_result("accounts").as_dict(), "status": "skipped", "message": "synced 2 minutes ago"}
    assert describe_row(skip) == ("warning", "Skipped accounts: synced 2 minutes ago")
    assert describe_row(skip, labelled=True) == ("warning", "skipped: synced 2 minutes ago")
