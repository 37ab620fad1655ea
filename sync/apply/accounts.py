"""Accounts: upsert by (connection, provider_account_id), deactivate the missing, record balances.

Runs inside the handler's data transaction and returns Counts. Existing rows
are read in one query, compared in Python, and only changed rows are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from providers.base import AccountData
from sync.apply.instances import assign_changed, write_instances
from sync.apply.normalize import currency, money
from sync.apply.sql import ROWS_PER_STATEMENT
from sync.models import Account, BalanceSnapshot, Connection
from sync.results import Counts

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
        elif assign_changed(account, values):
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
    write_instances(Account, created, updated, ACCOUNT_SYNCED_FIELDS, now)
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
    BalanceSnapshot.objects.bulk_create(snapshots, batch_size=ROWS_PER_STATEMENT, ignore_conflicts=True)
    return counts, existing
