"""Applying provider DTOs to the database: upsert by provider identity, in batches.

Each apply function runs inside the handler's data transaction and returns
Counts. Queries grow with the number of accounts and batches, not with rows:
existing rows are read in bulk, compared in Python, and only rows whose synced
fields changed are written. Transactions, the bulk of the data, skip model
instances altogether: they are fetched into a `TransactionSpool` on disk
outside the transaction, then streamed per account in batches of APPLY_BATCH
(read as plain values, inserted with COPY on PostgreSQL and executemany
elsewhere, updated with executemany), so memory holds one batch plus one id
per row of the account being applied.
"""

from __future__ import annotations

import functools
import pickle
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

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
ID_CHUNK = 5000  # ids per `IN (...)` lookup; well under SQLite's (32766) and PostgreSQL's (65535) limits
APPLY_BATCH = 5000  # transactions read from the spool, looked up and written together
ARRAY_CHUNK = 20000  # ids per `= ANY(array)` lookup on PostgreSQL (one parameter)
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


class _Row:
    """A transaction as plain values (cheaper than a model instance): stored, or about to be inserted.

    `values` follows TRANSACTION_SYNCED_FIELDS.
    """

    __slots__ = ("adding", "category", "notes", "pk", "provider_id", "replaces_id", "values")

    def __init__(self, pk, provider_id: str, values: tuple, *, category="", notes="", adding=False) -> None:
        self.pk = pk
        self.provider_id = provider_id
        self.values = values
        self.category = category
        self.notes = notes
        self.replaces_id = None
        self.adding = adding

    @property
    def pending(self) -> bool:
        return self.values[_STATUS] == Transaction.Status.PENDING

    @property
    def posted_date(self) -> date:
        return self.values[_POSTED_DATE]

    @property
    def amount(self) -> Decimal:
        return self.values[_AMOUNT]

    @property
    def is_removed(self) -> bool:
        return self.values[_IS_REMOVED]


_STATUS = TRANSACTION_SYNCED_FIELDS.index("status")
_POSTED_DATE = TRANSACTION_SYNCED_FIELDS.index("posted_date")
_AMOUNT = TRANSACTION_SYNCED_FIELDS.index("amount")
_IS_REMOVED = TRANSACTION_SYNCED_FIELDS.index("is_removed")  # removed_at follows it: see _remove
_ROW_FIELDS = ("pk", "provider_transaction_id", *TRANSACTION_SYNCED_FIELDS, "category", "notes")
TRANSACTION_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "account_id",
    "provider_transaction_id",
    *TRANSACTION_SYNCED_FIELDS,
    "category",
    "notes",
    "replaces_id",
)


def _load(queryset, into: dict[str, _Row]) -> None:
    width = len(TRANSACTION_SYNCED_FIELDS)
    for pk, provider_id, *rest in queryset.values_list(*_ROW_FIELDS):
        into[provider_id] = _Row(pk, provider_id, tuple(rest[:width]), category=rest[width], notes=rest[width + 1])


def _load_by_ids(account: Account, ids: Iterable[str], into: dict[str, _Row]) -> None:
    missing = [i for i in ids if i not in into]
    postgres = connection.vendor == "postgresql"
    size = ARRAY_CHUNK if postgres else ID_CHUNK
    for start in range(0, len(missing), size):
        chunk = missing[start : start + size]
        rows = Transaction.objects.filter(account=account)
        if postgres:
            # One array parameter, not thousands of IN literals to bind and plan.
            rows = rows.filter(RawSQL("provider_transaction_id = ANY(%s)", (chunk,), output_field=BooleanField()))
        else:
            rows = rows.filter(provider_transaction_id__in=chunk)
        _load(rows, into)


def _replaced_ids(pending_pks: list) -> set:
    """Which of these pending rows some posted row already replaces."""
    found: set = set()
    for start in range(0, len(pending_pks), ID_CHUNK):
        chunk = pending_pks[start : start + ID_CHUNK]
        found.update(Transaction.objects.filter(replaces__in=chunk).values_list("replaces_id", flat=True))
    return found


def _remove(row: _Row, now: datetime, counts: Counts, updated: dict) -> None:
    if not row.is_removed:
        row.values = (*row.values[:_IS_REMOVED], True, now)
        updated[row.pk] = row
        counts.removed += 1


def _link(posted: _Row, pending: _Row, now: datetime, counts: Counts, updated: dict) -> None:
    """`posted` replaces `pending`: link them, carry the user's edits across, retire the pending row."""
    posted.replaces_id = pending.pk
    posted.category = posted.category or pending.category
    posted.notes = posted.notes or pending.notes
    _remove(pending, now, counts, updated)


class TransactionSpool:
    """Fetched transactions kept on disk, one temporary file per account, until the data transaction applies them.

    The handler fills it outside any transaction from the provider's pages
    (`add`), then `apply_spooled_transactions` streams it in batches, so a sync
    holds a bounded number of rows in memory (plus one id per row of an account).
    Rows are validated and quantized as they are spooled.
    """

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {}
        self._first_ids: dict[str, str] = {}
        self.removed: dict[str, list[str]] = defaultdict(list)
        self.accounts: dict[str, AccountData] = {}
        self.accounts_covered: list[str] = []
        self.next_cursor: str | None = None
        self.warnings: list[str] = []

    def add(self, page: TransactionsResult) -> None:
        """Spool one page; `accounts_covered` and `next_cursor` are the last page's (see Provider)."""
        by_account: dict[str, list[tuple]] = defaultdict(list)
        for data in page.transactions:
            by_account[data.provider_account_id].append(
                (data.provider_transaction_id, _transaction_row(data), data.pending, data.pending_transaction_id)
            )
        for account_id, items in by_account.items():
            if account_id not in self._files:
                self._files[account_id] = tempfile.TemporaryFile(prefix="finsync-spool-")  # noqa: SIM115 - closed in close()
                self._first_ids[account_id] = items[0][0]
            pickle.dump(items, self._files[account_id], protocol=pickle.HIGHEST_PROTOCOL)
        for item in page.removed:
            self.removed[item.provider_account_id].append(item.provider_transaction_id)
        for account in page.accounts:
            self.accounts[account.provider_account_id] = account
        self.accounts_covered = list(page.accounts_covered)
        self.next_cursor = page.next_cursor
        self.warnings += [w for w in page.warnings if w not in self.warnings]

    def account_ids(self) -> set[str]:
        """Accounts that have spooled transactions."""
        return set(self._files)

    def first_id(self, account_id: str) -> str:
        return self._first_ids[account_id]

    def rows(self, account_id: str) -> Iterator[tuple]:
        """(provider id, values, pending, pending_transaction_id) of an account, in the order spooled."""
        spool = self._files.get(account_id)
        if spool is None:
            return
        spool.seek(0)
        while True:
            try:
                items = pickle.load(spool)  # noqa: S301 - our own temporary file
            except EOFError:
                return
            yield from items

    def close(self) -> None:
        for spool in self._files.values():
            spool.close()
        self._files.clear()


def spool_transactions(pages: Iterable[TransactionsResult]) -> TransactionSpool:
    """Spool a provider's pages; the spool is closed if fetching fails."""
    spool = TransactionSpool()
    try:
        for page in pages:
            spool.add(page)
    except BaseException:
        spool.close()
        raise
    return spool


def apply_transactions(
    accounts_by_pid: dict[str, Account], result: TransactionsResult, *, window: tuple[date, date] | None, now: datetime
) -> Counts:
    """Upsert `result` (window or cursor mode) for the given accounts and retire what vanished."""
    spool = spool_transactions([result])
    try:
        return apply_spooled_transactions(accounts_by_pid, spool, window=window, now=now)
    finally:
        spool.close()


def apply_spooled_transactions(
    accounts_by_pid: dict[str, Account], spool: TransactionSpool, *, window: tuple[date, date] | None, now: datetime
) -> Counts:
    """Apply a spool (window or cursor mode) to the given accounts, account by account, in batches."""
    counts = Counts()
    for provider_account_id in sorted(spool.account_ids()):
        if provider_account_id not in accounts_by_pid:
            raise ProviderBadResponse(
                f"transaction {spool.first_id(provider_account_id)} belongs to unknown account {provider_account_id}"
            )
    removed_ids = {pid: ids for pid, ids in spool.removed.items() if pid in accounts_by_pid}
    scope = spool.account_ids() | set(removed_ids)
    if window is not None:
        scope |= {pid for pid in spool.accounts_covered if pid in accounts_by_pid}
    for provider_account_id in sorted(scope):
        _apply_account_transactions(
            accounts_by_pid[provider_account_id],
            spool,
            provider_account_id,
            removed_ids.get(provider_account_id, []),
            window=window,
            now=now,
            counts=counts,
        )
    return counts


def _chosen_versions(spool: TransactionSpool, provider_account_id: str) -> tuple[dict[str, int], set[str]]:
    """Which spooled version of each id applies, by position, and the pending ids that rows link to.

    The last version wins, except that a pending version never replaces a posted one.
    """
    chosen: dict[str, int] = {}  # id -> position * 2 + (1 when that version is pending)
    links: set[str] = set()
    for position, (provider_id, _, pending, link) in enumerate(spool.rows(provider_account_id)):
        known = chosen.get(provider_id)
        if known is None or known & 1 or not pending:
            chosen[provider_id] = position * 2 + int(bool(pending))
        if link:
            links.add(link)
    return chosen, links


def _apply_account_transactions(
    account: Account,
    spool: TransactionSpool,
    provider_account_id: str,
    removed: list[str],
    *,
    window: tuple[date, date] | None,
    now: datetime,
    counts: Counts,
) -> None:
    chosen, linked_pending = _chosen_versions(spool, provider_account_id)

    # Rows the provider dropped: named (cursor mode) or vanished from the window.
    # They, and the pending rows the provider links to, stay in memory (`kept`)
    # until the end; every other row only for its batch.
    vanished: list[str] = []
    if window is not None:
        in_window = Transaction.objects.filter(account=account, posted_date__range=window)
        vanished = [
            pid
            for pid, is_removed in in_window.values_list("provider_transaction_id", "is_removed").iterator(BATCH_SIZE)
            if pid not in chosen and not is_removed
        ]
    kept: dict[str, _Row] = {}
    _load_by_ids(account, [*removed, *vanished, *linked_pending], kept)
    gone = [kept[i] for i in [*removed, *vanished] if i in kept]
    vanished_amounts = {row.amount for row in gone if row.pending}

    linked: list[tuple[_Row, str]] = []  # created rows the provider links to a pending id, in order
    candidates: list[_Row] = []  # created posted rows that may replace a vanished pending row
    pending_pks: list = []  # stored rows that are pending
    batch: list[tuple] = []

    def flush() -> None:
        rows: dict[str, _Row] = {}
        _load_by_ids(account, [item[0] for item in batch if item[0] not in kept], rows)
        created: list[_Row] = []
        changed: list[_Row] = []
        for provider_id, values, pending, link in batch:
            row = kept.get(provider_id) or rows.get(provider_id)
            if row is None:
                row = _Row(uuid.uuid4(), provider_id, values, adding=True)
                created.append(row)
                counts.created += 1
                if provider_id in linked_pending:
                    kept[provider_id] = row
                if link:
                    linked.append((row, link))
                elif not pending and row.amount in vanished_amounts:
                    candidates.append(row)
                continue
            if row.values != values:
                row.values = values
                changed.append(row)
                counts.updated += 1
            else:
                counts.unchanged += 1
            if row.pending and provider_id not in kept:
                pending_pks.append(row.pk)
        _insert_transactions(account, created, now)
        _update_transactions(changed, now)
        batch.clear()

    for position, item in enumerate(spool.rows(provider_account_id)):
        if chosen.get(item[0], -1) >> 1 == position:
            batch.append(item)
            if len(batch) >= APPLY_BATCH:
                flush()
    if batch:
        flush()
    del chosen

    # Pending -> posted. First the links the provider gives, then (window
    # providers that give none) a vanished pending row is matched to a new
    # posted row on the same amount within PENDING_MATCH_DAYS, nearest first.
    pending_pks += [row.pk for row in kept.values() if row.pending and not row.adding]
    already_replaced = _replaced_ids(pending_pks)
    updated: dict = {}
    relinked: list[_Row] = []
    for row, link in linked:
        pending = kept.get(link)
        if pending is not None and pending is not row and pending.pk not in already_replaced:
            _link(row, pending, now, counts, updated)
            relinked.append(row)
            already_replaced.add(pending.pk)
    for pending in sorted((g for g in gone if g.pending), key=lambda r: r.posted_date):
        if pending.pk in already_replaced:
            continue
        matches = [
            p
            for p in candidates
            if p.replaces_id is None
            and p.amount == pending.amount
            and abs((p.posted_date - pending.posted_date).days) <= PENDING_MATCH_DAYS
        ]
        if matches:
            best = min(matches, key=lambda p: (abs((p.posted_date - pending.posted_date).days), p.provider_id))
            _link(best, pending, now, counts, updated)
            relinked.append(best)
            already_replaced.add(pending.pk)
    for row in gone:
        _remove(row, now, counts, updated)

    # Every row is already stored: write what the links and removals changed.
    _update_transactions(list(updated.values()), now)
    _bulk_update(
        Transaction,
        ("id", "replaces_id", "category", "notes"),
        [(row.pk, row.replaces_id, row.category, row.notes) for row in relinked],
    )


def _transaction_row(data: TransactionData) -> tuple:
    values = _transaction_values(data)
    return tuple(values[name] for name in TRANSACTION_SYNCED_FIELDS)


def _insert_transactions(account: Account, rows: list[_Row], now: datetime) -> None:
    records = [
        (row.pk, now, now, account.pk, row.provider_id, *row.values, row.category, row.notes, row.replaces_id)
        for row in rows
    ]
    _bulk_insert(Transaction, TRANSACTION_COLUMNS, records)


def _update_transactions(rows: list[_Row], now: datetime) -> None:
    records = [(row.pk, *row.values, now) for row in rows]
    _bulk_update(Transaction, ("id", *TRANSACTION_SYNCED_FIELDS, "updated_at"), records)


# --- bulk writes without model instances --------------------------------------------


def _bulk_insert(model, columns: Sequence[str], records: list[tuple]) -> None:
    """Insert plain tuples: PostgreSQL COPY straight into the table, elsewhere executemany in batches.

    The caller has read the existing rows inside the same transaction, under
    the connection's sync claim, so these keys are new.
    """
    if not records:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The raw psycopg cursor: wrap its errors into Django's (IntegrityError, DataError) ourselves.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(record)
            return
        prepare = _preparer(model, columns)
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 - names from the model
        for start in range(0, len(records), BATCH_SIZE):
            cursor.executemany(sql, [prepare(record) for record in records[start : start + BATCH_SIZE]])


def _bulk_update(model, columns: Sequence[str], records: list[tuple]) -> None:
    """UPDATE rows by primary key: each record is (pk, *values of columns[1:])."""
    if not records:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    assignments = ", ".join(f"{qn(c)} = %s" for c in columns[1:])
    sql = f"UPDATE {table} SET {assignments} WHERE {qn(columns[0])} = %s"  # noqa: S608 - names from the model
    prepare = _preparer(model, columns)
    with connection.cursor() as cursor:
        for start in range(0, len(records), BATCH_SIZE):
            params = []
            for record in records[start : start + BATCH_SIZE]:
                values = prepare(record)
                params.append((*values[1:], values[0]))
            cursor.executemany(sql, params)


def _preparer(model, columns: Sequence[str]):
    """A function turning a record into the values the database driver takes (Django's own adaptation)."""
    if connection.vendor == "postgresql":
        return _same  # psycopg adapts UUID, Decimal, dates and aware datetimes itself
    fields = {f.column: f for f in model._meta.concrete_fields}
    adapters = []
    for index, column in enumerate(columns):
        field = fields[column]
        kind = field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()
        if kind in ("CharField", "TextField", "BooleanField", "DecimalField", "DateField"):
            continue  # the driver (with Django's registered adapters) takes these as they are
        if kind == "UUIDField" and connection.vendor == "sqlite":
            adapters.append((index, _uuid_hex))  # what UUIDField stores without a native uuid type
        elif kind == "DateTimeField":
            adapters.append((index, functools.lru_cache(maxsize=1024)(connection.ops.adapt_datetimefield_value)))
        else:
            adapters.append((index, lambda value, field=field: field.get_db_prep_save(value, connection)))

    def prepare(record):
        values = list(record)
        for index, adapt in adapters:
            values[index] = adapt(values[index])
        return values

    return prepare


def _same(value):
    return value


def _uuid_hex(value):
    return None if value is None else value.hex


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
