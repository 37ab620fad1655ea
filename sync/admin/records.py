"""Admins for synced records (transactions, holdings) and the history (sync runs, audit events).

Synced records are read-only except the user's own fields (a transaction's
category and notes). Sync runs and audit events are read-only for everyone.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils.html import format_html

from sync.models import AuditEvent, Holding, Source, SyncRun, Transaction
from sync.services.edits import EDITABLE, edit_transaction


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, for anyone (superusers included); viewing follows permissions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _related(obj, name):
    """The related object, or None when the reference dangles (audit ids have no constraint)."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def _admin_link(obj, fallback_id=None):
    if obj is None:
        return fallback_id or "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, str(obj))


class TransactionEditForm(forms.ModelForm):
    """The user's fields, with the limits the edit service enforces (checked here, shown on the form)."""

    notes = forms.CharField(required=False, max_length=EDITABLE["notes"], widget=forms.Textarea)

    class Meta:
        model = Transaction
        fields = ["category", "notes"]


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    form = TransactionEditForm
    list_display = (
        "posted_date",
        "description",
        "payee",
        "activity_type",
        "symbol",
        "quantity",
        "price",
        "amount",
        "currency",
        "account",
        "status",
        "category",
        "provider_category",
        "is_removed",
    )
    list_filter = (
        "status",
        "is_removed",
        "activity_type",
        "posted_date",
        "account__connection__provider",
        "account",
    )
    search_fields = (
        "description",
        "payee",
        "symbol",
        "category",
        "provider_category",
        "notes",
        "provider_transaction_id",
    )
    date_hierarchy = "posted_date"
    list_select_related = ("account",)
    fieldsets = (
        ("Your fields", {"fields": ("category", "notes")}),
        (
            "From the provider",
            {
                "fields": (
                    "account",
                    "posted_date",
                    "transacted_at",
                    "amount",
                    "currency",
                    "description",
                    "payee",
                    "provider_category",
                    "activity_type",
                    "symbol",
                    "quantity",
                    "price",
                    "fees",
                    "status",
                    "replaces",
                    "is_removed",
                    "removed_at",
                    "provider_transaction_id",
                )
            },
        ),
    )
    readonly_fields = fieldsets[1][1]["fields"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service: only category and notes are written, and the edit is audited.
        edit_transaction(
            transaction_id=obj.pk,
            user_id=request.user.pk,
            source=Source.ADMIN,
            category=obj.category if "category" in form.changed_data else None,
            notes=obj.notes if "notes" in form.changed_data else None,
            as_staff=True,
        )


@admin.register(Holding)
class HoldingAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "name",
        "account",
        "asset_type",
        "quantity",
        "price",
        "market_value",
        "cost_basis",
        "currency",
        "is_active",
        "as_of",
    )
    list_filter = ("is_active", "asset_type", "currency", "account")
    search_fields = ("symbol", "name", "provider_holding_id")
    date_hierarchy = "as_of"
    list_select_related = ("account",)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "kind",
        "status",
        "source",
        "connection",
        "account",
        "actor",
        "created_count",
        "updated_count",
        "unchanged_count",
        "removed_count",
        "reason_code",
        "duration",
    )
    list_filter = ("kind", "status", "source", "started_at", "force", "reason_code")
    search_fields = ("connection__name", "account__name", "actor__username", "reason_code", "message")
    date_hierarchy = "started_at"
    list_select_related = ("connection", "account", "actor")
    readonly_fields = ("audit_trail",)

    @admin.display(description="Audit events")
    def audit_trail(self, obj):
        url = reverse("admin:sync_auditevent_changelist")
        count = AuditEvent.objects.filter(sync_run_id=obj.pk).count()
        return format_html('<a href="{}?sync_run={}">{} audit events</a>', url, obj.pk, count)


class EventKindFilter(admin.SimpleListFilter):
    """What an event is about: a kind of sync, or the connection itself."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return (
            ("sync.accounts.", "Accounts sync"),
            ("sync.transactions.", "Transactions sync"),
            ("sync.holdings.", "Holdings sync"),
            ("connection.", "Connection"),
            ("transaction.", "Transaction edit"),
        )

    def queryset(self, request, queryset):
        return queryset.filter(event__startswith=self.value()) if self.value() else queryset


class EventOutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(outcome, outcome.capitalize()) for outcome in ("attempted", "succeeded", "skipped", "failed")]

    def queryset(self, request, queryset):
        return queryset.filter(event__endswith=f".{self.value()}") if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "event", "actor_label", "source", "connection_link", "account_link", "summary")
    list_filter = (EventKindFilter, EventOutcomeFilter, "source", "occurred_at")
    search_fields = ("event", "actor_label")
    date_hierarchy = "occurred_at"
    # The references have no database constraint: a deleted connection leaves an id, shown as such.
    list_select_related = ("connection", "account")
    fields = (
        "occurred_at",
        "event",
        "actor_label",
        "source",
        "correlation_id",
        "connection_link",
        "account_link",
        "sync_run_link",
        "payload_json",
    )
    readonly_fields = fields

    @admin.display(description="Connection")
    def connection_link(self, obj):
        return _admin_link(_related(obj, "connection"), obj.connection_id)

    @admin.display(description="Account")
    def account_link(self, obj):
        return _admin_link(_related(obj, "account"), obj.account_id)

    @admin.display(description="Sync run")
    def sync_run_link(self, obj):
        return _admin_link(_related(obj, "sync_run"), obj.sync_run_id)

    @admin.display(description="Details")
    def summary(self, obj):
        return ", ".join(f"{key}={value}" for key, value in obj.payload.items() if key != "window")[:120]

    @admin.display(description="Payload")
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))
