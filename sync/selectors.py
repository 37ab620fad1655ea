"""Reads shared by the handlers and every interface: what a user may see, change and sync.

Two kinds of scope, kept apart on purpose:

- `owned_*`: what a user may see and change through the API (list, read, edit
  category/notes, disconnect): their own data only, for everyone, staff included.
- `syncable_*`: what a user may *sync*: their own connections, or every user's
  for active staff holding `sync.sync_connection`. That permission syncs; it
  does not show or change anything.

The admin console is the third way in: it follows Django's model permissions
(`view_*`, `change_*`), meant for support staff (see `staff_may`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from sync.models import Account, AuditEvent, Connection, Holding, SyncRun, Transaction

SYNC_ANY_PERMISSION = "sync.sync_connection"


def staff_may(user, permission: str) -> bool:
    """Active staff holding the Django permission `permission` (superusers hold every one)."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission))


def may_sync_any(user) -> bool:
    """Staff holding `sync.sync_connection` may sync every user's connections (and only sync them)."""
    return staff_may(user, SYNC_ANY_PERMISSION)


def get_user(user_id):
    """The active user with this id, or None."""
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


# --- what a user may see and change (the API): their own data, for everyone ----------


def owned_connections(user) -> QuerySet[Connection]:
    """The user's own connections."""
    return Connection.objects.filter(owner=user)


def owned_accounts(user) -> QuerySet[Account]:
    """The accounts of the user's own connections."""
    return Account.objects.select_related("connection").filter(connection__owner=user)


def owned_transactions(user) -> QuerySet[Transaction]:
    """The transactions of the user's own accounts."""
    return Transaction.objects.select_related("account").filter(account__connection__owner=user)


def owned_holdings(user) -> QuerySet[Holding]:
    """The holdings of the user's own accounts."""
    return Holding.objects.select_related("account").filter(account__connection__owner=user)


def owned_sync_runs(user) -> QuerySet[SyncRun]:
    """Runs on the user's own connections, and the user's own attempts on things they may not see."""
    # A failed attempt on something the actor may not see has no connection.
    return SyncRun.objects.filter(Q(connection__owner=user) | Q(connection__isnull=True, actor=user))


def owned_audit_events(user) -> QuerySet[AuditEvent]:
    """Events about the user's own connections, and the user's own events about no connection."""
    own = Connection.objects.filter(owner=user).values("pk")
    return AuditEvent.objects.filter(Q(connection_id__in=own) | Q(connection__isnull=True, actor=user))


# --- what a user may sync: their own, or anyone's with sync.sync_connection ------------


def syncable_connections(user) -> QuerySet[Connection]:
    """Connections the user may sync: their own, or all of them for staff holding `sync.sync_connection`."""
    qs = Connection.objects.all()
    return qs if may_sync_any(user) else qs.filter(owner=user)


def syncable_accounts(user) -> QuerySet[Account]:
    """Accounts whose holdings or transactions the user may sync (see `syncable_connections`)."""
    qs = Account.objects.select_related("connection")
    return qs if may_sync_any(user) else qs.filter(connection__owner=user)


HOLDINGS_TYPES = ("investment", "brokerage")


def may_have_holdings(account: Account) -> bool:
    """An investment account, or any account that already has holdings (the rule of `holdings_accounts`)."""
    return account.type in HOLDINGS_TYPES or account.holdings.exists()


def holdings_accounts(connection_id) -> QuerySet[Account]:
    """The accounts of a connection whose holdings a connection-wide sync covers:
    active investment accounts, and any account that already has holdings."""
    return (
        Account.objects.filter(connection_id=connection_id, is_active=True)
        .filter(Q(type__in=HOLDINGS_TYPES) | Q(holdings__isnull=False))
        .distinct()
        .order_by("name", "pk")
    )


# --- what needs a look (the admin's dashboard) ------------------------------------------


def needing_attention(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Of `connections`, those not disconnected whose last sync failed, that need
    re-authentication, or that were never synced; the most recent trouble first."""
    return (
        connections.exclude(status=Connection.Status.DISCONNECTED)
        .filter(Q(status=Connection.Status.NEEDS_REAUTH) | ~Q(last_error_code="") | Q(accounts_synced_at__isnull=True))
        .select_related("owner")
        .order_by("-last_error_at", "-created_at")
    )
