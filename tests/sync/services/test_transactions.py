"""Transactions: upsert by identity, pending -> posted, soft removal, windows."""

from __future__ import annotations

from datetime import date

import pytest

from sync.models import Transaction
from tests.sync.helpers import accounts, set_config, transactions

pytestmark = pytest.mark.django_db


def test_first_sync_then_idempotent_resync(demo_connection, user):
    first = transactions(demo_connection, user)
    assert first.created == Transaction.objects.count() > 50
    assert Transaction.objects.filter(status="pending").exists()
    assert set(Transaction.objects.values_list("currency", flat=True)) == {"USD"}
    assert all(t.amount.as_tuple().exponent == -4 for t in Transaction.objects.all()[:20])
    assert all(t.transacted_at.tzinfo is not None for t in Transaction.objects.all()[:20])

    again = transactions(demo_connection, user, force=True)

    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert again.unchanged == first.created
    assert Transaction.objects.count() == first.created


def test_transactions_sync_learns_unknown_accounts(demo_connection, user):
    transactions(demo_connection, user)
    assert demo_connection.accounts.count() == 3


def test_pending_posts_and_user_edits_move_across(demo_connection, user):
    transactions(demo_connection, user)
    pending = Transaction.objects.filter(status="pending").order_by("posted_date", "provider_transaction_id")
    first_pending = pending.first()
    Transaction.objects.filter(pk=first_pending.pk).update(category="Coffee", notes="with Sam")
    pending_ids = set(pending.values_list("provider_transaction_id", flat=True))
    set_config(demo_connection, as_of="2026-06-18")

    result = transactions(demo_connection, user, end_date=date(2026, 6, 18), force=True)

    posted = Transaction.objects.get(replaces=first_pending)
    assert posted.status == "posted"
    assert posted.provider_transaction_id == first_pending.provider_transaction_id.replace("pend-", "txn-")
    assert (posted.category, posted.notes) == ("Coffee", "with Sam")
    assert posted.amount == first_pending.amount
    first_pending.refresh_from_db()
    assert first_pending.is_removed and first_pending.removed_at is not None
    retired = Transaction.objects.filter(provider_transaction_id__in=pending_ids)
    assert all(t.is_removed for t in retired)  # posted or vanished holds: none stays pending
    assert result.removed == len(pending_ids)
    # The user's edits are never overwritten by a later sync.
    again = transactions(demo_connection, user, end_date=date(2026, 6, 18), force=True)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    posted.refresh_from_db()
    assert (posted.category, posted.notes) == ("Coffee", "with Sam")


def test_vanished_pending_matched_without_a_link(demo_connection, user):
    """SimpleFIN-style: the posted row has a new id and no link; match on amount and date."""
    transactions(demo_connection, user)
    pending = Transaction.objects.filter(status="pending").first()
    Transaction.objects.filter(pk=pending.pk).update(provider_transaction_id="bank-says-nothing", notes="keep me")
    set_config(demo_connection, as_of="2026-06-18")

    transactions(demo_connection, user, end_date=date(2026, 6, 18), force=True)

    pending.refresh_from_db()
    assert pending.is_removed
    replacement = Transaction.objects.filter(replaces=pending).first()
    if replacement is None:  # this one was an authorisation hold that never posted
        assert not Transaction.objects.filter(notes="keep me", is_removed=False).exists()
    else:
        assert (replacement.amount, replacement.notes, replacement.status) == (pending.amount, "keep me", "posted")


def test_rows_the_provider_drops_are_soft_removed_and_can_return(demo_connection, user):
    transactions(demo_connection, user)
    count = Transaction.objects.count()
    set_config(demo_connection, history_start="2026-06-01")  # the bank stops reporting May

    result = transactions(demo_connection, user, force=True)

    removed = Transaction.objects.filter(is_removed=True)
    assert result.removed == removed.count() > 0
    assert result.created == 0 and result.unchanged == count - result.removed
    assert all(t.posted_date <= date(2026, 6, 1) for t in removed)
    assert Transaction.objects.count() == count  # soft removal: nothing is deleted
    set_config(demo_connection, history_start="2026-02-01")
    back = transactions(demo_connection, user, force=True)
    assert (back.updated, back.created, back.removed) == (result.removed, 0, 0)
    assert not Transaction.objects.filter(is_removed=True).exists()


def test_removal_is_scoped_to_the_window_and_account(demo_connection, user):
    transactions(demo_connection, user)
    total = Transaction.objects.count()
    set_config(demo_connection, history_start="2026-06-08")
    checking = demo_connection.accounts.get(subtype="checking")

    result = transactions(
        demo_connection,
        user,
        account_id=checking.pk,
        start_date=date(2026, 6, 1),
        end_date=date(2026, 6, 10),
        force=True,
    )

    removed = Transaction.objects.filter(is_removed=True)
    assert removed.count() == result.removed > 0
    assert set(removed.values_list("account", flat=True)) == {checking.pk}
    assert all(date(2026, 6, 1) <= t.posted_date <= date(2026, 6, 10) for t in removed)
    assert Transaction.objects.count() == total


def test_account_sync_then_transactions_for_one_account(demo_connection, user):
    accounts(demo_connection, user)
    card = demo_connection.accounts.get(subtype="credit card")
    result = transactions(demo_connection, user, account_id=card.pk)
    assert result.account_id == card.pk
    assert set(Transaction.objects.values_list("account", flat=True)) == {card.pk}
    card.refresh_from_db()
    demo_connection.refresh_from_db()
    assert card.transactions_synced_at is not None
    # A one-account sync does not gate the whole connection.
    assert demo_connection.transactions_synced_at is None
    assert transactions(demo_connection, user).status == "succeeded"
