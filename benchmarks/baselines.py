"""The two baselines of the sync benchmark, run in a child process with Django set up.

- naive: per-row `update_or_create` of a sample of the rows into an empty account, in one transaction,
  extrapolated to all rows;
- floor: all rows as pre-built tuples (no HTTP, no ORM, no parsing) bulk-loaded into an empty account, then the
  same rows again (which must write nothing): PostgreSQL COPY into a temporary table plus one
  INSERT ... ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM ...; SQLite one executemany
  INSERT ... ON CONFLICT DO UPDATE ... WHERE.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from sync.apply.normalize import TRANSACTION_SYNCED_FIELDS
from sync.models import Account, Connection, Transaction

# The columns FinSync compares and writes, so the floor does the same work.
SYNCED = TRANSACTION_SYNCED_FIELDS
COLUMNS = ("id", "created_at", "updated_at", "account_id", "provider_transaction_id", *SYNCED, "category", "notes")


def _empty_accounts(name: str, rows: list) -> dict[str, Account]:
    """A new connection with one empty account per account of `rows`, by provider id."""
    owner, _ = get_user_model().objects.get_or_create(username="bench-baseline")
    bank = Connection.objects.create(owner=owner, provider="simplefin", name=name)
    ids = dict.fromkeys(row[0] for row in rows)
    return {pid: Account.objects.create(connection=bank, provider_account_id=pid, name=pid) for pid in ids}


def _values(row) -> dict:
    _, _, day, amount, description, payee, pending = row
    return {
        "posted_date": day,
        "transacted_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        "amount": Decimal(amount).quantize(Decimal("0.0001")),
        "currency": "USD",
        "description": description,
        "payee": payee,
        "provider_category": "",
        "activity_type": None,
        "symbol": None,
        "quantity": None,
        "price": None,
        "fees": None,
        "status": "pending" if pending else "posted",
        "is_removed": False,
        "removed_at": None,
    }


def naive(rows: list, *, sample: int) -> dict:
    chosen = rows[:: max(1, len(rows) // sample)][:sample]  # spread over every account
    accounts = _empty_accounts(f"naive-{uuid.uuid4().hex[:8]}", chosen)
    queries = []
    started = time.perf_counter()
    with connection.execute_wrapper(lambda execute, *a: queries.append(1) or execute(*a)), transaction.atomic():
        for row in chosen:
            Transaction.objects.update_or_create(
                account=accounts[row[0]], provider_transaction_id=row[1], defaults=_values(row)
            )
    spent = time.perf_counter() - started
    scale = len(rows) / len(chosen)
    return {"sample": len(chosen), "seconds": spent * scale, "queries": round(len(queries) * scale)}


def floor(rows: list, **_) -> dict:
    accounts = _empty_accounts(f"floor-{uuid.uuid4().hex[:8]}", rows)
    load = _postgres_load if connection.vendor == "postgresql" else _sqlite_load
    first = _tuples(rows, accounts)
    seconds, written = load(first)
    again = _tuples(rows, accounts)
    again_seconds, again_written = load(again)
    method = "COPY + INSERT ON CONFLICT" if connection.vendor == "postgresql" else "executemany INSERT ON CONFLICT"
    return {
        "method": method,
        "seconds": seconds,
        "written": written,
        "again_seconds": again_seconds,
        "again_written": again_written,
        "queries": 3 if connection.vendor == "postgresql" else 1,
    }


def _tuples(rows: list, accounts: dict[str, Account]) -> list[tuple]:
    now = timezone.now()
    out = []
    sqlite = connection.vendor == "sqlite"
    for row in rows:
        values = _values(row)
        item = (uuid.uuid4(), now, now, accounts[row[0]].pk, row[1], *(values[name] for name in SYNCED), "", "")
        if sqlite:
            item = tuple(_sqlite_value(v) for v in item)
        out.append(item)
    return out


def _sqlite_value(value):
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _upsert_sql(table: str, source: str) -> str:
    columns = ", ".join(COLUMNS)
    changed = ", ".join(f"{name} = excluded.{name}" for name in (*SYNCED, "updated_at"))
    left = ", ".join(f"{table}.{name}" for name in SYNCED)
    right = ", ".join(f"excluded.{name}" for name in SYNCED)
    return (
        f"INSERT INTO {table} ({columns}) {source} "
        f"ON CONFLICT (account_id, provider_transaction_id) DO UPDATE SET {changed} "
        f"WHERE ({left}) IS DISTINCT FROM ({right})"
    )


def _postgres_load(tuples: list[tuple]) -> tuple[float, int]:
    table = Transaction._meta.db_table
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor itself: no ORM in the timed path
        cursor.execute(f"CREATE TEMP TABLE bench_incoming (LIKE {table}) ON COMMIT DROP")
        with cursor.copy(f"COPY bench_incoming ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for item in tuples:
                copy.write_row(item)
        cursor.execute(_upsert_sql(table, f"SELECT {', '.join(COLUMNS)} FROM bench_incoming"))  # noqa: S608
        written = cursor.rowcount
    return time.perf_counter() - started, written


def _sqlite_load(tuples: list[tuple]) -> tuple[float, int]:
    table = Transaction._meta.db_table
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = _upsert_sql(table, f"VALUES ({placeholders})").replace(
        f"WHERE ({', '.join(f'{table}.{n}' for n in SYNCED)}) IS DISTINCT FROM "
        f"({', '.join(f'excluded.{n}' for n in SYNCED)})",
        "WHERE " + " OR ".join(f"{table}.{n} IS NOT excluded.{n}" for n in SYNCED),
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        raw = wrapper.connection  # the sqlite3 connection itself
        before = raw.total_changes
        raw.executemany(sql, tuples)
        written = raw.total_changes - before
    return time.perf_counter() - started, written
