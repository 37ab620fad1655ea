"""Balances over time: the daily series rebuilt from the balance, the transactions and the snapshots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from sync.errors import ValidationError
from sync.models import Account, BalanceSnapshot
from sync.services.balances import daily_balances, net_worth, resolve_window
from tests.factories import AccountFactory, TransactionFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


@pytest.fixture
def checking():
    account = AccountFactory(balance=Decimal("1000.00"), balance_date=_at(DAY), type="depository", currency="USD")
    TransactionFactory(account=account, posted_date=DAY, amount=Decimal("-100.00"))
    TransactionFactory(account=account, posted_date=DAY - timedelta(days=2), amount=Decimal("250.00"))
    TransactionFactory(account=account, posted_date=DAY - timedelta(days=2), amount=Decimal("-50.00"))
    # Neither a removed nor a pending transaction moves the posted balance.
    TransactionFactory(
        account=account,
        posted_date=DAY - timedelta(days=1),
        amount=Decimal("-999"),
        is_removed=True,
        removed_at=_at(DAY),
    )
    TransactionFactory(account=account, posted_date=DAY - timedelta(days=1), amount=Decimal("-7"), status="pending")
    return account


def _values(points):
    return [(p.day, p.balance, p.source) for p in points]


def test_walks_back_from_the_balance_through_the_transactions(checking):
    points = daily_balances(checking)
    assert _values(points) == [
        (DAY - timedelta(days=2), Decimal("1100.00"), "derived"),  # closing: after that day's +250 and -50
        (DAY - timedelta(days=1), Decimal("1100.00"), "derived"),  # before the -100 of DAY
        (DAY, Decimal("1000.00"), "current"),
    ]
    assert points[-1].as_dict() == {"date": "2026-03-10", "balance": "1000.00", "source": "current"}


def test_a_snapshot_wins_and_the_walk_continues_from_it(checking):
    BalanceSnapshot.objects.create(
        account=checking, balance=Decimal("1150.00"), as_of=_at(DAY - timedelta(days=1)), source="accounts"
    )
    points = daily_balances(checking, start=DAY - timedelta(days=3))
    assert _values(points) == [
        (DAY - timedelta(days=3), Decimal("950.00"), "derived"),  # before the +250 and -50
        (DAY - timedelta(days=2), Decimal("1150.00"), "derived"),
        (DAY - timedelta(days=1), Decimal("1150.00"), "snapshot"),
        (DAY, Decimal("1000.00"), "current"),
    ]


def test_a_window_is_cut_and_days_after_the_balance_are_not_guessed(checking):
    points = daily_balances(checking, start=DAY - timedelta(days=1), end=DAY + timedelta(days=5))
    assert [p.day for p in points] == [DAY - timedelta(days=1), DAY]


def test_market_value_accounts_carry_their_snapshots_forward():
    account = AccountFactory(type="investment", balance=Decimal("5000"), balance_date=_at(DAY))
    TransactionFactory(account=account, posted_date=DAY, amount=Decimal("-4000"))  # a buy: value unchanged
    BalanceSnapshot.objects.create(
        account=account, balance=Decimal("4800"), as_of=_at(DAY - timedelta(days=3)), source="accounts"
    )
    assert _values(daily_balances(account)) == [
        (DAY - timedelta(days=3), Decimal("4800"), "snapshot"),
        (DAY - timedelta(days=2), Decimal("4800"), "carried"),
        (DAY - timedelta(days=1), Decimal("4800"), "carried"),
        (DAY, Decimal("5000"), "current"),
    ]


def test_an_account_with_no_balance_has_no_series():
    assert daily_balances(AccountFactory(balance=None)) == []


def test_net_worth_sums_active_accounts_per_currency(checking):
    card = AccountFactory(
        connection=checking.connection, balance=Decimal("-300.00"), balance_date=_at(DAY), type="credit"
    )
    AccountFactory(connection=checking.connection, balance=Decimal("1000000"), balance_date=_at(DAY), is_active=False)
    AccountFactory(connection=checking.connection, balance=Decimal("50000"), balance_date=_at(DAY), currency="JPY")
    accounts = Account.objects.filter(connection=checking.connection)
    series = net_worth(accounts, start=DAY - timedelta(days=1), end=DAY + timedelta(days=1))
    assert [(s.currency, s.accounts) for s in series] == [("JPY", 1), ("USD", 2)]
    assert series[1].points == [
        (DAY - timedelta(days=1), Decimal("800.00")),  # 1,100 - 300
        (DAY, Decimal("700.00")),
        (DAY + timedelta(days=1), Decimal("700.00")),  # the latest balance stands until a later sync
    ]
    assert card.pk


def test_windows_are_checked():
    with pytest.raises(ValidationError, match="after end"):
        resolve_window(None, start=DAY, end=DAY - timedelta(days=1), first=None, last=DAY)
    with pytest.raises(ValidationError, match="Unknown range"):
        resolve_window("2w", start=None, end=None, first=None, last=DAY)
    assert resolve_window("30d", start=None, end=None, first=None, last=DAY) == (DAY - timedelta(days=29), DAY)
    assert resolve_window("all", start=None, end=None, first=date(2020, 1, 1), last=DAY) == (date(2020, 1, 1), DAY)


def test_a_window_long_before_the_balance_starts_at_its_own_end(checking):
    BalanceSnapshot.objects.create(
        account=checking, balance=Decimal("1150.00"), as_of=_at(DAY - timedelta(days=1)), source="accounts"
    )
    old = date(1990, 1, 1)
    # Before every transaction: the snapshot's 1,150 less the +250 and -50 of DAY - 2.
    assert _values(daily_balances(checking, start=old, end=old + timedelta(days=1))) == [
        (old, Decimal("950.00"), "derived"),
        (old + timedelta(days=1), Decimal("950.00"), "derived"),
    ]
    with pytest.raises(ValidationError, match="At most"):
        daily_balances(checking, start=date(1, 1, 1))
