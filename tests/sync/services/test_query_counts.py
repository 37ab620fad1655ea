"""A sync costs a handful of queries: they grow with accounts and batches, not with rows."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ConnectionFactory
from tests.sync.helpers import accounts, set_config, transactions

pytestmark = pytest.mark.django_db
WINDOW = {"start_date": date(2026, 2, 1), "end_date": date(2026, 6, 15)}


def sync_queries(connection_obj, user, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        transactions(connection_obj, user, force=True, **WINDOW, **kwargs)
    return len(captured)


@pytest.mark.parametrize("per_account", [100, 900])
def test_transactions_sync_queries_do_not_grow_with_rows(user, per_account, django_assert_max_num_queries):
    bank = ConnectionFactory(owner=user, config={"transactions_per_account": per_account})
    accounts(bank, user)
    # Both sizes fit one apply batch (transaction_apply.APPLY_BATCH rows), so both must stay under the same bound.
    with django_assert_max_num_queries(30):
        first = transactions(bank, user, force=True, **WINDOW)
    assert first.created > per_account  # three accounts' worth of rows
    with django_assert_max_num_queries(30):
        again = transactions(bank, user, force=True, **WINDOW)
    assert again.unchanged == first.created and again.updated == 0
    set_config(bank, as_of="2026-06-18")  # pending rows post, a few new rows arrive
    with django_assert_max_num_queries(40):
        transactions(bank, user, force=True, start_date=date(2026, 2, 1), end_date=date(2026, 6, 18))


def test_query_count_is_the_same_at_ten_times_the_rows(user):
    small = ConnectionFactory(owner=user, name="Small", config={"transactions_per_account": 90})
    large = ConnectionFactory(owner=user, name="Large", config={"transactions_per_account": 900})
    accounts(small, user)
    accounts(large, user)
    assert sync_queries(small, user) == sync_queries(large, user)
    assert sync_queries(small, user) == sync_queries(large, user)  # unchanged re-sync
