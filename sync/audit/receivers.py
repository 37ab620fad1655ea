"""The audit receiver: writes each domain event to the append-only AuditEvent table.

Handlers send their events outside their data transaction, so a failed sync's
events are committed even though its data was rolled back.
"""

from __future__ import annotations

from sync.audit import signals
from sync.models import AuditEvent


def _label(actor) -> str:
    return actor.get_username() if actor is not None else "system"


def record_sync_event(
    sender, *, outcome, kind, sync_run, actor, source, correlation_id, connection, account, payload, **_
):
    AuditEvent.objects.create(
        event=f"sync.{kind}.{outcome}",
        actor=actor,
        actor_label=_label(actor),
        source=source,
        correlation_id=correlation_id,
        connection=connection,
        account=account,
        sync_run=sync_run,
        payload=payload,
    )


def record_connection_event(sender, *, event, connection, actor, source, correlation_id=None, payload=None, **_):
    AuditEvent.objects.create(
        event=f"connection.{event}",
        actor=actor,
        actor_label=_label(actor),
        source=source,
        correlation_id=correlation_id,
        connection=connection,
        payload=payload or {},
    )


def record_transaction_edited(sender, *, transaction, actor, source, correlation_id=None, payload=None, **_):
    # The names of the fields changed, not their values: notes are the user's free
    # text, and this log is append-only, so a value written here could never be erased.
    AuditEvent.objects.create(
        event="transaction.edited",
        actor=actor,
        actor_label=_label(actor),
        source=source,
        correlation_id=correlation_id,
        connection_id=transaction.account.connection_id,
        account_id=transaction.account_id,
        payload=payload or {},
    )


def _sync_receiver(outcome):
    def receiver(sender, **kwargs):
        record_sync_event(sender, outcome=outcome, **kwargs)

    return receiver


def _connection_receiver(event):
    def receiver(sender, **kwargs):
        record_connection_event(sender, event=event, **kwargs)

    return receiver


_RECEIVERS = {}


def connect_receivers() -> None:
    """Connect the audit receivers; called from SyncConfig.ready()."""
    for outcome, signal in signals.SYNC_SIGNALS.items():
        _RECEIVERS[outcome] = _sync_receiver(outcome)
        signal.connect(_RECEIVERS[outcome], dispatch_uid=f"finsync.audit.sync.{outcome}")
    for event, signal in (
        ("created", signals.connection_created),
        ("connect_failed", signals.connection_connect_failed),
        ("status_changed", signals.connection_status_changed),
        ("credentials_rotated", signals.connection_credentials_rotated),
        ("sync_requested", signals.connection_sync_requested),
        ("reconnected", signals.connection_reconnected),
    ):
        _RECEIVERS[event] = _connection_receiver(event)
        signal.connect(_RECEIVERS[event], dispatch_uid=f"finsync.audit.connection.{event}")
    signals.transaction_edited.connect(record_transaction_edited, dispatch_uid="finsync.audit.transaction.edited")
