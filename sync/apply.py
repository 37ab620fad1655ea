"""Applying provider DTOs to the database: upsert by provider identity, in batches.

Each apply function runs inside the handler's data transaction and returns
Counts. Queries grow with the number of accounts and batches, not with rows:
existing rows are read in bulk, compared in Python, and only rows whose synced
fields changed are written. Accounts and holdings (a few rows) go through
model instances here; transactions, the bulk of the data, through plain rows
in `sync.transaction_apply`, whose entry points this module re-exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from providers.base import (
    AccountData,
    HoldingData,
    HoldingsResult,
)
from sync.bulk import BATCH_SIZE
from sync.models import Account, BalanceSnapshot, Connection, Holding
from sync.normalize import currency, money, quantity
from sync.results import Counts
from sync.transaction_apply import apply_spooled_transactions, apply_transactions

__all__ = ["apply_holdings", "apply_spooled_transactions", "apply_transactions", "upsert_accounts"]

ACCOUNT_SYNCED_FIELDS = (
    "name",
    "type",
    "subtype",
    "mask",
    "currency",
    "balance",
    "available_balance",
    "balance_date",
    "is_active",
)
HOLDING_SYNCED_FIELDS = (
    "symbol",
    "name",
    "asset_type",
    "quantity",
    "price",
    "cost_basis",
    "market_value",
    "currency",
    "as_of",
    "is_active",
)


def _assign(obj, values: dict) -> bool:
    """Set `values` on `obj`; True when anything differed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _write(model, created: list, updated: list, fields: Iterable[str], now: datetime) -> None:
    if created:
        model.objects.bulk_create(created, batch_size=BATCH_SIZE)
    if updated:
        for obj in updated:
            obj.updated_at = now
        model.objects.bulk_update(updated, [*fields, "updated_at"], batch_size=BATCH_SIZE)


# --- accounts -------------------------------------------------------------------


def _account_values(data: AccountData) -> dict:
    what = f"account {data.provider_account_id}"
    return {
        "name": (data.name or data.provider_account_id)[:255],
        "type": (data.type or "")[:50],
        "subtype": (data.subtype or "")[:50],
        "mask": (data.mask or "")[-4:],
        "currency": currency(data.currency, what),
        "balance": money(data.balance, f"{what} balance"),
        "available_balance": money(data.available_balance, f"{what} available balance"),
        "balance_date": data.balance_date,
        "is_active": True,
    }


def upsert_accounts(
    connection: Connection,
    accounts: Sequence[AccountData],
    *,
    deactivate_missing: bool,
    snapshot_source: str,
    now: datetime,
) -> tuple[Counts, dict[str, Account]]:
    """Upsert the reported accounts; with `deactivate_missing`, the others go inactive.

    Returns the counts and every account of the connection by provider id.
    """
    counts = Counts()
    existing = {a.provider_account_id: a for a in Account.objects.filter(connection=connection)}
    reported: dict[str, AccountData] = {a.provider_account_id: a for a in accounts}
    created, updated = [], []
    for provider_id, data in reported.items():
        values = _account_values(data)
        account = existing.get(provider_id)
        if account is None:
            account = Account(connection=connection, provider_account_id=provider_id, **values)
            existing[provider_id] = account
            created.append(account)
            counts.created += 1
        elif _assign(account, values):
            updated.append(account)
            counts.updated += 1
        else:
            counts.unchanged += 1
    if deactivate_missing:
        for provider_id, account in existing.items():
            if provider_id not in reported and account.is_active:
                account.is_active = False
                updated.append(account)
                counts.removed += 1
    _write(Account, created, updated, ACCOUNT_SYNCED_FIELDS, now)
    snapshots = [
        BalanceSnapshot(
            account=existing[pid],
            balance=existing[pid].balance,
            available=existing[pid].available_balance,
            as_of=data.balance_date or now,
            source=snapshot_source,
        )
        for pid, data in reported.items()
        if data.balance is not None or data.available_balance is not None
    ]
    BalanceSnapshot.objects.bulk_create(snapshots, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return counts, existing


# --- holdings -------------------------------------------------------------------


def _holding_values(data: HoldingData, now: datetime) -> dict:
    what = f"holding {data.provider_holding_id}"
    return {
        "symbol": (data.symbol or "")[:64],
        "name": (data.name or "")[:255],
        "asset_type": (data.asset_type or "")[:50],
        "quantity": quantity(data.quantity, f"{what} quantity") or Decimal(0),
        "price": quantity(data.price, f"{what} price"),
        "cost_basis": quantity(data.cost_basis, f"{what} cost basis"),
        "market_value": quantity(data.market_value, f"{what} market value"),
        "currency": currency(data.currency, what),
        "as_of": data.as_of,
        "is_active": True,
    }


def apply_holdings(account: Account, result: HoldingsResult, *, now: datetime) -> Counts:
    """Holdings are a full snapshot: upsert what is reported, deactivate the rest."""
    counts = Counts()
    existing = {h.provider_holding_id: h for h in Holding.objects.filter(account=account)}
    reported = {h.provider_holding_id: h for h in result.holdings}
    created, updated = [], []
    for provider_id, data in reported.items():
        values = _holding_values(data, now)
        holding = existing.get(provider_id)
        if holding is None:
            created.append(Holding(account=account, provider_holding_id=provider_id, **values))
            counts.created += 1
        elif _assign(holding, values):
            updated.append(holding)
            counts.updated += 1
        else:
            counts.unchanged += 1
    for provider_id, holding in existing.items():
        if provider_id not in reported and holding.is_active:
            holding.is_active = False
            updated.append(holding)
            counts.removed += 1
    _write(Holding, created, updated, HOLDING_SYNCED_FIELDS, now)
    return counts
