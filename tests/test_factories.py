"""The factories make rows the database accepts, tied together the way a sync ties them."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from sync.models import SyncRun
from tests.factories import AccountFactory, HoldingFactory, SyncRunFactory, TransactionFactory

pytestmark = pytest.mark.django_db


def test_rows_hang_together():
    account = AccountFactory()
    row = TransactionFactory(account=account)
    holding = HoldingFactory(account__connection=account.connection)
    assert row.account.connection.owner == account.connection.owner
    assert holding.account.type == "investment" and holding.account.connection == account.connection
    assert (row.status, row.is_removed) == ("posted", False)


def test_sync_runs_default_to_a_running_claim_of_their_connection():
    run = SyncRunFactory()
    assert (run.kind, run.source, run.status) == ("accounts", "cli", SyncRun.Status.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRunFactory(connection=run.connection)  # one running sync per connection
    assert SyncRunFactory(connection=run.connection, status="succeeded").status == "succeeded"
