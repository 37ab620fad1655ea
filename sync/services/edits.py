"""The user's own fields: editing a transaction's `category` and `notes`.

One service for the API's PATCH and the admin's change form. It writes only
the columns that changed (a sync running meanwhile writes the provider's
columns, never these, so neither overwrites the other) and audits the change
as `transaction.edited`, naming the fields, the actor and the source.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.db import transaction as db_transaction
from django.utils import timezone

from sync import selectors
from sync.audit import signals
from sync.errors import NotFound, ValidationError
from sync.models import Transaction

if TYPE_CHECKING:
    from uuid import UUID


STAFF_EDIT_PERMISSION = "sync.change_transaction"
# The user's fields and their longest value (category is the column's size; notes as the API allows).
EDITABLE = {"category": Transaction._meta.get_field("category").max_length, "notes": 10_000}


def edit_transaction(
    *,
    transaction_id: UUID | str,
    user_id: int | UUID | str,
    source: str,
    category: str | None = None,
    notes: str | None = None,
    as_staff: bool = False,
    correlation_id: uuid.UUID | None = None,
) -> Transaction:
    """Set a transaction's `category` and/or `notes` (None: leave as is); returns the transaction.

    The owner may edit their own transactions (the API, staff included).
    `as_staff` is the admin console's way in: active staff holding
    `sync.change_transaction` may edit any user's. Anyone else gets NotFound.
    Writes only the changed columns and `updated_at`; emits one
    `transaction_edited` signal naming the changed fields, and none when nothing changed.
    """
    wanted = {name: value for name, value in (("category", category), ("notes", notes)) if value is not None}
    problems = {
        name: [f"at most {EDITABLE[name]} characters"] for name, value in wanted.items() if len(value) > EDITABLE[name]
    }
    if problems:
        raise ValidationError("; ".join(f"{name}: {msgs[0]}" for name, msgs in problems.items()), fields=problems)
    actor = selectors.get_user(user_id)
    if actor is None:
        raise NotFound("transaction not found")
    if as_staff and selectors.staff_may(actor, STAFF_EDIT_PERMISSION):
        candidates = Transaction.objects.select_related("account")
    else:
        candidates = selectors.owned_transactions(actor)
    with db_transaction.atomic():
        # Locked, so two edits at once each compare against what the other wrote.
        row = candidates.select_for_update(of=("self",)).filter(pk=transaction_id).first()
        if row is None:
            raise NotFound("transaction not found")
        changed = [name for name, value in wanted.items() if getattr(row, name) != value]
        if not changed:
            return row
        for name in changed:
            setattr(row, name, wanted[name])
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
        # Inside the transaction: the edit and its audit event commit together or not at all.
        signals.transaction_edited.send(
            sender=Transaction,
            transaction=row,
            actor=actor,
            source=source,
            correlation_id=correlation_id or uuid.uuid4(),
            payload={"transaction": str(row.pk), "fields": changed},
        )
    return row
