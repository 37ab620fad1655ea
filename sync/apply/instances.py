"""Writes of the few-rows records (accounts, holdings) through model instances.

Accounts and holdings number in the tens per connection, so model instances
cost nothing here; the transactions, the bulk of the data, go through plain
rows and SQL instead (`sync.apply.transactions`, `sync.apply.sql`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import models

from sync.apply.sql import ROWS_PER_STATEMENT


def assign_changed(obj: models.Model, values: dict) -> bool:
    """Set `values` on `obj`; True when anything differed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def write_instances(
    model: type[models.Model], created: list, updated: list, fields: Iterable[str], now: datetime
) -> None:
    if created:
        model.objects.bulk_create(created, batch_size=ROWS_PER_STATEMENT)
    if updated:
        for obj in updated:
            obj.updated_at = now
        model.objects.bulk_update(updated, [*fields, "updated_at"], batch_size=ROWS_PER_STATEMENT)
