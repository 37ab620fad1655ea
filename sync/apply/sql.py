"""Bulk writes of plain tuples, without model instances: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Sequence

from django.db import connection, models

ROWS_PER_STATEMENT = 1000
# Version 4 (random) UUIDs from 128 random bits: clear then set the version and variant bits, as uuid.UUID does.
_V4_CLEAR = ~(0xF000 << 64) & ~(0xC000 << 48)
_V4_SET = (4 << 76) | (0x8000 << 48)


def new_ids(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs, as uuid.uuid4() makes them, from one read of os.urandom.

    Twice as fast as calling uuid4() per row, which reads os.urandom each time.
    """
    data = os.urandom(16 * count)
    from_bytes = int.from_bytes
    return [
        uuid.UUID(int=(from_bytes(data[i : i + 16], "big") & _V4_CLEAR) | _V4_SET) for i in range(0, 16 * count, 16)
    ]


def bulk_insert(model: type[models.Model], columns: Sequence[str], records: list[tuple]) -> None:
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
        for start in range(0, len(records), ROWS_PER_STATEMENT):
            cursor.executemany(sql, [prepare(record) for record in records[start : start + ROWS_PER_STATEMENT]])


def bulk_update(model: type[models.Model], columns: Sequence[str], records: list[tuple]) -> None:
    """UPDATE rows by primary key: each record is (pk, *values of columns[1:])."""
    if not records:
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    assignments = ", ".join(f"{qn(c)} = %s" for c in columns[1:])
    sql = f"UPDATE {table} SET {assignments} WHERE {qn(columns[0])} = %s"  # noqa: S608 - names from the model
    prepare = _preparer(model, columns)
    with connection.cursor() as cursor:
        for start in range(0, len(records), ROWS_PER_STATEMENT):
            params = []
            for record in records[start : start + ROWS_PER_STATEMENT]:
                values = prepare(record)
                params.append((*values[1:], values[0]))
            cursor.executemany(sql, params)


def _preparer(model: type[models.Model], columns: Sequence[str]) -> Callable[[tuple], Sequence]:
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

    def prepare(record: tuple) -> list:
        values = list(record)
        for index, adapt in adapters:
            values[index] = adapt(values[index])
        return values

    return prepare


def _same(value: object) -> object:
    return value


def _uuid_hex(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex
