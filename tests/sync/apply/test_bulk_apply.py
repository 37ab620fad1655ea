"""The bulk transactions apply: what it writes, and what it does not."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers.base import TransactionData, TransactionsResult
from sync.apply import transactions as transaction_apply
from sync.apply.sql import new_ids
from sync.models import Account, Transaction
from tests.factories import AccountFactory, ConnectionFactory
from tests.sync.helpers import accounts, transactions

pytestmark = pytest.mark.django_db
WINDOW = (date(2026, 6, 1), date(2026, 6, 15))


def _account(user) -> Account:
    return AccountFactory(connection__owner=user, provider_account_id="acct-1", name="Checking")


def _row(transaction_id: str, amount: str, **fields) -> TransactionData:
    return TransactionData(
        provider_transaction_id=transaction_id,
        provider_account_id="acct-1",
        posted_date=fields.pop("posted_date", date(2026, 6, 10)),
        amount=Decimal(amount),
        **fields,
    )


def _apply(account: Account, rows: list[TransactionData]):
    result = TransactionsResult(transactions=rows, accounts_covered=["acct-1"])
    return transaction_apply.apply_transactions({"acct-1": account}, result, window=WINDOW, now=timezone.now())


def _transaction_writes(captured) -> list[str]:
    table = Transaction._meta.db_table
    return [
        q["sql"]
        for q in captured.captured_queries
        if table in q["sql"] and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "COPY"))
    ]


def test_an_unchanged_resync_writes_no_transaction_row(user):
    bank = ConnectionFactory(owner=user, config={"transactions_per_account": 200})
    accounts(bank, user)
    first = transactions(bank, user, force=True)
    assert first.created > 200
    with CaptureQueriesContext(connection) as captured:
        again = transactions(bank, user, force=True)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == first.created
    assert _transaction_writes(captured) == []


def test_a_changed_row_is_updated_in_place_and_the_rest_left_alone(user):
    account = _account(user)
    _apply(account, [_row("t1", "-10.00", description="Cafe"), _row("t2", "-20.00", description="Books")])
    before = {t.provider_transaction_id: t.updated_at for t in Transaction.objects.all()}
    counts = _apply(account, [_row("t1", "-10.00", description="Cafe"), _row("t2", "-25.00", description="Books")])
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    rows = {t.provider_transaction_id: t for t in Transaction.objects.all()}
    assert rows["t2"].amount == Decimal("-25.0000")
    assert rows["t1"].updated_at == before["t1"]
    assert rows["t2"].updated_at > before["t2"]


def test_a_repeated_id_in_one_result_is_stored_once_with_the_last_version(user):
    account = _account(user)
    counts = _apply(account, [_row("t1", "-1.00"), _row("t1", "-2.00", description="later")])
    assert counts.created == 1
    stored = Transaction.objects.get()
    assert (stored.amount, stored.description) == (Decimal("-2.0000"), "later")


def test_values_are_stored_exactly_as_the_orm_would_store_them(user):
    account = _account(user)
    at = datetime(2026, 6, 10, 14, 30, 5, 123456, tzinfo=UTC)
    _apply(account, [_row("t1", "1234.56789", transacted_at=at, payee="Shop", category="Food", pending=True)])
    stored = Transaction.objects.get()
    assert stored.amount == Decimal("1234.5679")  # quantized to the column's 4 places before writing
    assert stored.transacted_at == at
    assert (stored.status, stored.payee, stored.provider_category) == ("pending", "Shop", "Food")
    assert stored.created_at == stored.updated_at
    # The ORM reads back what the bulk path wrote, and a second apply sees it as unchanged.
    again = _apply(account, [_row("t1", "1234.56789", transacted_at=at, payee="Shop", category="Food", pending=True)])
    assert (again.unchanged, again.updated) == (1, 0)


def _history(bank) -> list[tuple]:
    rows = Transaction.objects.filter(account__connection=bank).select_related("replaces")
    return sorted(
        (
            t.account.provider_account_id,
            t.provider_transaction_id,
            t.posted_date,
            t.amount,
            t.status,
            t.is_removed,
            t.replaces.provider_transaction_id if t.replaces else None,
        )
        for t in rows
    )


def test_small_apply_batches_give_the_same_history_as_one_batch(user, monkeypatch):
    """Rows split over many batches (pending rows posting, links, removals) end as with one batch."""
    one = ConnectionFactory(owner=user, name="One batch", config={"transactions_per_account": 60})
    many = ConnectionFactory(owner=user, name="Many batches", config={"transactions_per_account": 60})
    results = {}
    for bank, batch in ((one, transaction_apply.SPOOL_ROWS_PER_STEP), (many, 7)):
        monkeypatch.setattr(transaction_apply, "SPOOL_ROWS_PER_STEP", batch)
        accounts(bank, user)
        runs = []
        for as_of, end in (("2026-06-15", date(2026, 6, 15)), ("2026-06-19", date(2026, 6, 19))):
            bank.config = {**bank.config, "as_of": as_of}
            bank.save(update_fields=["config"])
            result = transactions(bank, user, force=True, start_date=date(2026, 5, 1), end_date=end)
            runs.append((result.created, result.updated, result.unchanged, result.removed))
        results[batch] = (runs, _history(bank))
    (one_runs, one_history), (many_runs, many_history) = results.values()
    assert many_runs == one_runs
    assert many_history == one_history
    assert any(row[-1] for row in one_history)  # some posted rows replaced pending ones


def test_new_ids_are_random_version_4_uuids():
    ids = new_ids(5000)
    assert len(ids) == len(set(ids)) == 5000
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    assert new_ids(0) == []
    assert len({i.int >> 64 for i in ids}) == 5000  # the high bits vary too, not just a counter
