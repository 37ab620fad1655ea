"""Helpers for handler tests: run commands, snapshot the data tables."""

from __future__ import annotations

from datetime import date

from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.models import Account, BalanceSnapshot, Connection, Holding, Transaction
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions

WINDOW = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}


def accounts(connection, user, **kwargs):
    return sync_accounts(SyncAccounts(connection_id=connection.pk, user_id=user.pk, **kwargs), source="cli")


def transactions(connection, user, **kwargs):
    kwargs = {**WINDOW, **kwargs}
    return sync_transactions(SyncTransactions(connection_id=connection.pk, user_id=user.pk, **kwargs), source="cli")


def holdings(account, user, **kwargs):
    return sync_holdings(SyncHoldings(account_id=account.pk, user_id=user.pk, **kwargs), source="cli")


def set_config(connection, **changes):
    connection.refresh_from_db()
    connection.config = {**connection.config, **changes}
    connection.save(update_fields=["config"])


def data_snapshot() -> dict:
    """Every synced data row, as plain values: equal snapshots mean an untouched database."""
    snapshot = {
        model.__name__: sorted(map(repr, model.objects.values_list()))
        for model in (Account, Transaction, Holding, BalanceSnapshot)
    }
    # A failure may note its error on the connection, but not move its sync state.
    snapshot["Connection"] = sorted(
        map(repr, Connection.objects.values_list("pk", "cursor", "accounts_synced_at", "transactions_synced_at"))
    )
    return snapshot
