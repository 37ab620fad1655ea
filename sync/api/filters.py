"""Query filters of the read-only endpoints (django-filter). Bad values are 400s, not 500s."""

from __future__ import annotations

import django_filters as filters

from sync.models import Account, AuditEvent, Holding, SyncKind, SyncRun, Transaction


class AccountFilter(filters.FilterSet):
    connection = filters.UUIDFilter(field_name="connection_id", help_text="Accounts of this connection.")
    is_active = filters.BooleanFilter()
    type = filters.CharFilter(max_length=50)

    class Meta:
        model = Account
        fields = ["connection", "is_active", "type"]


class TransactionFilter(filters.FilterSet):
    account = filters.UUIDFilter(field_name="account_id")
    connection = filters.UUIDFilter(field_name="account__connection_id")
    start_date = filters.DateFilter(field_name="posted_date", lookup_expr="gte", help_text="Posted on or after.")
    end_date = filters.DateFilter(field_name="posted_date", lookup_expr="lte", help_text="Posted on or before.")
    status = filters.ChoiceFilter(choices=Transaction.Status.choices)
    removed = filters.BooleanFilter(field_name="is_removed", help_text="Soft-removed by the provider.")

    class Meta:
        model = Transaction
        fields = ["account", "connection", "start_date", "end_date", "status", "removed"]


class HoldingFilter(filters.FilterSet):
    account = filters.UUIDFilter(field_name="account_id")
    active = filters.BooleanFilter(field_name="is_active")

    class Meta:
        model = Holding
        fields = ["account", "active"]


class SyncRunFilter(filters.FilterSet):
    connection = filters.UUIDFilter(field_name="connection_id")
    account = filters.UUIDFilter(field_name="account_id")
    kind = filters.ChoiceFilter(choices=SyncKind.choices)
    status = filters.ChoiceFilter(choices=SyncRun.Status.choices)

    class Meta:
        model = SyncRun
        fields = ["connection", "account", "kind", "status"]


class AuditEventFilter(filters.FilterSet):
    event = filters.CharFilter(max_length=100)
    connection = filters.UUIDFilter(field_name="connection_id")
    sync_run = filters.UUIDFilter(field_name="sync_run_id")
    correlation_id = filters.UUIDFilter()

    class Meta:
        model = AuditEvent
        fields = ["event", "connection", "sync_run", "correlation_id"]
