"""Applying provider DTOs to the database: upsert by provider identity, in batches.

Each function runs inside the handler's data transaction and returns Counts.
Queries grow with the number of accounts and batches, not with rows: existing
rows are read in bulk, compared in Python, and written with bulk_create /
bulk_update. A row whose synced fields did not change is not written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from providers.base import (
    AccountData,
    HoldingData,
    HoldingsResult,
    TransactionData,
    TransactionsResult,
)
from sync.errors import ProviderBadResponse
from sync.models import Account, BalanceSnapshot, Connection, Holding, Transaction
from sync.results import Counts

BATCH_SIZE = 1000
ID_CHUNK = 2000  # ids per `IN (...)` lookup; well under SQLite's (32766) and PostgreSQL's (65535) limits
PENDING_MATCH_DAYS = 7  # a vanished pending row matches a posted one this close in date
MONEY_STEP = Decimal("0.0001")
QUANTITY_STEP = Decimal("0.00000001")
MONEY_LIMIT = Decimal(10) ** 15  # Decimal(19, 4)
QUANTITY_LIMIT = Decimal(10) ** 16  # Decimal(24, 8)

TRANSACTION_SYNCED_FIELDS = (
    "posted_date",
    "transacted_at",
    "amount",
    "currency",
    "description",
    "payee",
    "provider_category",
    "status",
    "is_removed",
    "removed_at",
)
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


def _decimal(value, step: Decimal, limit: Decimal, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value).quantize(step)
    except (InvalidOperation, TypeError, ValueError):
        raise ProviderBadResponse(f"{what} is not a number") from None
    if not number.is_finite() or abs(number) >= limit:
        raise ProviderBadResponse(f"{what} is out of range")
    return number


def money(value, what: str) -> Decimal | None:
    return _decimal(value, MONEY_STEP, MONEY_LIMIT, what)


def quantity(value, what: str) -> Decimal | None:
    return _decimal(value, QUANTITY_STEP, QUANTITY_LIMIT, what)


def currency(value: str, what: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ProviderBadResponse(f"{what} has an invalid currency code")
    return code


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


# --- transactions ---------------------------------------------------------------


def _transaction_values(data: TransactionData) -> dict:
    what = f"transaction {data.provider_transaction_id}"
    if not isinstance(data.posted_date, date):
        raise ProviderBadResponse(f"{what} has no date")
    return {
        "posted_date": data.posted_date,
        "transacted_at": data.transacted_at,
        "amount": money(data.amount, f"{what} amount"),
        "currency": currency(data.currency, what),
        "description": data.description or "",
        "payee": (data.payee or "")[:255],
        "provider_category": (data.category or "")[:255],
        "status": Transaction.Status.PENDING if data.pending else Transaction.Status.POSTED,
        "is_removed": False,
        "removed_at": None,
    }


def _load_by_ids(account: Account, ids: Iterable[str], into: dict[str, Transaction]) -> None:
    missing = [i for i in ids if i not in into]
    for start in range(0, len(missing), ID_CHUNK):
        chunk = missing[start : start + ID_CHUNK]
        for row in Transaction.objects.filter(account=account, provider_transaction_id__in=chunk):
            into[row.provider_transaction_id] = row


def _replaced_ids(pending_pks: list) -> set:
    """Which of these pending rows some posted row already replaces."""
    found: set = set()
    for start in range(0, len(pending_pks), ID_CHUNK):
        chunk = pending_pks[start : start + ID_CHUNK]
        found.update(Transaction.objects.filter(replaces__in=chunk).values_list("replaces_id", flat=True))
    return found


def _remove(row: Transaction, now: datetime, counts: Counts, updated: dict) -> None:
    if not row.is_removed:
        row.is_removed = True
        row.removed_at = now
        updated[row.pk] = row
        counts.removed += 1


def _link(posted: Transaction, pending: Transaction, now: datetime, counts: Counts, updated: dict) -> None:
    """`posted` replaces `pending`: link them, carry the user's edits across, retire the pending row."""
    posted.replaces = pending
    posted.category = posted.category or pending.category
    posted.notes = posted.notes or pending.notes
    _remove(pending, now, counts, updated)


def apply_transactions(
    accounts_by_pid: dict[str, Account], result: TransactionsResult, *, window: tuple[date, date] | None, now: datetime
) -> Counts:
    """Upsert `result` (window or cursor mode) for the given accounts and retire what vanished."""
    counts = Counts()
    incoming: dict[str, dict[str, TransactionData]] = defaultdict(dict)
    for data in result.transactions:
        if data.provider_account_id not in accounts_by_pid:
            raise ProviderBadResponse(
                f"transaction {data.provider_transaction_id} belongs to unknown account {data.provider_account_id}"
            )
        incoming[data.provider_account_id][data.provider_transaction_id] = data  # last one wins
    removed_ids: dict[str, list[str]] = defaultdict(list)
    for item in result.removed:
        if item.provider_account_id in accounts_by_pid:
            removed_ids[item.provider_account_id].append(item.provider_transaction_id)
    scope = set(incoming) | set(removed_ids)
    if window is not None:
        scope |= {pid for pid in result.accounts_covered if pid in accounts_by_pid}
    for provider_account_id in sorted(scope):
        _apply_account_transactions(
            accounts_by_pid[provider_account_id],
            incoming.get(provider_account_id, {}),
            removed_ids.get(provider_account_id, []),
            window=window,
            now=now,
            counts=counts,
        )
    return counts


def _apply_account_transactions(
    account: Account,
    incoming: dict[str, TransactionData],
    removed: list[str],
    *,
    window: tuple[date, date] | None,
    now: datetime,
    counts: Counts,
) -> None:
    rows: dict[str, Transaction] = {}
    if window is not None:
        rows = {
            t.provider_transaction_id: t for t in Transaction.objects.filter(account=account, posted_date__range=window)
        }
    in_window = set(rows)
    linked_pending = {d.pending_transaction_id for d in incoming.values() if d.pending_transaction_id}
    _load_by_ids(account, [*incoming, *removed, *linked_pending], rows)

    created: list[Transaction] = []
    updated: dict = {}
    new_posted: list[Transaction] = []
    for provider_id, data in incoming.items():
        values = _transaction_values(data)
        row = rows.get(provider_id)
        if row is None:
            row = Transaction(account=account, provider_transaction_id=provider_id, **values)
            rows[provider_id] = row
            created.append(row)
            counts.created += 1
            if not data.pending and not data.pending_transaction_id:
                new_posted.append(row)
        elif _assign(row, values):
            updated[row.pk] = row
            counts.updated += 1
        else:
            counts.unchanged += 1

    # Rows the provider dropped: named (cursor mode) or vanished from the window.
    gone = [rows[i] for i in removed if i in rows]
    if window is not None:
        gone += [rows[i] for i in in_window if i not in incoming and not rows[i].is_removed]

    # Pending -> posted. First the links the provider gives, then (window
    # providers that give none) a vanished pending row is matched to a new
    # posted row on the same amount within PENDING_MATCH_DAYS, nearest first.
    already_replaced = _replaced_ids(
        [r.pk for r in rows.values() if r.status == Transaction.Status.PENDING and not r._state.adding]
    )
    for row in created:
        pending = rows.get(incoming[row.provider_transaction_id].pending_transaction_id or "")
        if pending is not None and pending is not row and pending.pk not in already_replaced:
            _link(row, pending, now, counts, updated)
            already_replaced.add(pending.pk)
    for pending in sorted((g for g in gone if g.status == "pending"), key=lambda r: r.posted_date):
        if pending.pk in already_replaced:
            continue
        candidates = [
            p
            for p in new_posted
            if p.replaces is None
            and p.amount == pending.amount
            and abs((p.posted_date - pending.posted_date).days) <= PENDING_MATCH_DAYS
        ]
        if candidates:
            best = min(
                candidates, key=lambda p: (abs((p.posted_date - pending.posted_date).days), p.provider_transaction_id)
            )
            _link(best, pending, now, counts, updated)
            already_replaced.add(pending.pk)
    for row in gone:
        _remove(row, now, counts, updated)

    # A row created here is inserted with its final state; don't update it too.
    created_ids = {row.pk for row in created}
    changed = [row for pk, row in updated.items() if pk not in created_ids]
    _write(Transaction, created, changed, (*TRANSACTION_SYNCED_FIELDS, "replaces", "category", "notes"), now)


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
