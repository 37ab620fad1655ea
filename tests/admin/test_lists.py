"""Changelists that fit: money as money, accounts named with their connection, status only when it says something."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sync.models import Account
from tests.admin.helpers import change_url, changelist_url
from tests.factories import AccountFactory, HoldingFactory, TransactionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def checking(live_connection):
    return AccountFactory(connection=live_connection, name="Everyday Checking 0001", mask="0001", currency="USD")


def test_account_labels_name_the_connection_once(checking):
    assert str(checking) == "Everyday Checking ••0001"
    assert checking.label == "Everyday Checking ••0001 · Alice bank"
    assert str(Account(name="Savings", mask="9876")) == "Savings ••9876"


def test_transactions_list_shows_money_as_money(operator_client, checking):
    TransactionFactory(account=checking, amount=Decimal("-31.4900"), description="FUEL STOP", payee="Fuel Stop")
    TransactionFactory(
        account=checking,
        amount=Decimal("-5"),
        description="OLD",
        is_removed=True,
        removed_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    yen = AccountFactory(connection=checking.connection, name="Tokyo", currency="JPY")
    TransactionFactory(account=yen, amount=Decimal("-125000"), currency="JPY", description="RENT")
    response = operator_client.get(changelist_url("transaction"))
    content = response.content.decode()
    assert '<span class="money-neg">-31.49 USD</span>' in content
    assert "-125,000 JPY" in content
    assert "-31.4900" not in content
    assert "column-currency" not in content and "column-payee" not in content
    assert "Everyday Checking ••0001 · Alice bank" in content
    assert content.count(">Removed</span>") == 1  # only the removed one says so
    detail = operator_client.get(change_url("transaction", checking.transactions.get(description="FUEL STOP").pk))
    assert "-31.49 USD" in detail.content.decode()


def test_holdings_list_drops_trailing_zeros(operator_client, checking):
    HoldingFactory(
        account=checking,
        symbol="VTI",
        quantity=Decimal("12.5"),
        price=Decimal("187.25"),
        market_value=Decimal("2340.625"),
    )
    content = operator_client.get(changelist_url("holding")).content.decode()
    assert ">12.5<" in content and ">187.25<" in content and "2,340.62 USD" in content
    assert "12.50000000" not in content and "Sold / gone" not in content
