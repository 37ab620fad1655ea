"""Reads shared by the handlers and every interface: what a user may see and sync."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from sync.models import Account, AuditEvent, Connection, Holding, SyncRun, Transaction

SYNC_ANY_PERMISSION = "sync.sync_connection"


def may_sync_any(user) -> bool:
    """Staff holding `sync.sync_connection` may sync (and see) every user's connections."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(SYNC_ANY_PERMISSION))


def get_user(user_id):
    """The active user with this id, or None."""
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def connections_for(user) -> QuerySet[Connection]:
    qs = Connection.objects.all()
    return qs if may_sync_any(user) else qs.filter(owner=user)


def accounts_for(user) -> QuerySet[Account]:
    qs = Account.objects.select_related("connection")
    return qs if may_sync_any(user) else qs.filter(connection__owner=user)


def transactions_for(user) -> QuerySet[Transaction]:
    qs = Transaction.objects.select_related("account")
    return qs if may_sync_any(user) else qs.filter(account__connection__owner=user)


def holdings_for(user) -> QuerySet[Holding]:
    qs = Holding.objects.select_related("account")
    return qs if may_sync_any(user) else qs.filter(account__connection__owner=user)


def sync_runs_for(user) -> QuerySet[SyncRun]:
    qs = SyncRun.objects.all()
    if may_sync_any(user):
        return qs
    # A user's own failed attempts on things they may not see have no connection.
    return qs.filter(Q(connection__owner=user) | Q(connection__isnull=True, actor=user))


def audit_events_for(user) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    if may_sync_any(user):
        return qs
    own = Connection.objects.filter(owner=user).values("pk")
    return qs.filter(Q(connection_id__in=own) | Q(connection__isnull=True, actor=user))


def holdings_accounts(connection_id) -> QuerySet[Account]:
    """The accounts of a connection whose holdings a connection-wide sync covers:
    active investment accounts, and any account that already has holdings."""
    return (
        Account.objects.filter(connection_id=connection_id, is_active=True)
        .filter(Q(type__in=("investment", "brokerage")) | Q(holdings__isnull=False))
        .distinct()
        .order_by("name", "pk")
    )
