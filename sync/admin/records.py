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
from django.utils.safestring import mark_safe

from sync import formatting
from sync.models import AuditEvent, Holding, Source, SyncRun, Transaction
from sync.services.edits import EDITABLE, edit_transaction


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, for anyone (superusers included); viewing follows permissions."""

    class Media:
        css = {"all": ("sync/admin.css",)}

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


def money_cell(value, currency):
    """An amount for a list or a page: '-31.49 USD', red when negative (right-aligned by admin.css)."""
    text = formatting.money(value, currency)
    if value is not None and value < 0:
        return format_html('<span class="money-neg">{}</span>', text)
    return text


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

    class Media:
        css = {"all": ("sync/admin.css",)}

    # Fits 1366 px: the description (the payee when there is none), the account with its
    # connection, the amount with its currency, and the status only when it says something.
    list_display = (
        "posted_date",
        "description_display",
        "account_label",
        "category_display",
        "activity_display",
        "amount_display",
        "status_display",
    )
    list_display_links = ("description_display",)
    list_filter = (
        "status",
        "is_removed",
        "activity_type",
        "posted_date",
        "account__connection__provider",
        ("account", admin.RelatedOnlyFieldListFilter),
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
                    "amount_display",
                    "description",
                    "payee",
                    "provider_category",
                    "activity_type",
                    "symbol",
                    "quantity_display",
                    "price_display",
                    "fees_display",
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

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__connection")

    @admin.display(description="Description", ordering="description")
    def description_display(self, obj):
        text = obj.description or obj.payee or "-"
        if obj.payee and obj.description and obj.payee.lower() not in obj.description.lower():
            return format_html('{} <span class="quiet">· {}</span>', text, obj.payee)
        return text

    @admin.display(description="Account", ordering="account__name")
    def account_label(self, obj):
        return obj.account.label

    @admin.display(description="Category", ordering="category")
    def category_display(self, obj):
        return obj.category or obj.provider_category or "-"

    @admin.display(description="Activity")
    def activity_display(self, obj):
        """'Buy 12.5 VTI @ 187.25', 'Sell -100 SLM @ 8.36' for brokerage activity; blank for bank transactions."""
        if not obj.activity_type:
            return ""
        parts = [obj.get_activity_type_display()]
        if obj.quantity is not None:
            parts.append(formatting.quantity(obj.quantity))  # signed: units delivered are negative
        if obj.symbol:
            parts.append(obj.symbol)
        if obj.price is not None:
            parts.append(f"@ {formatting.price(obj.price)}")
        return " ".join(parts)

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return money_cell(obj.amount, obj.currency)

    @admin.display(description="Quantity")
    def quantity_display(self, obj):
        return formatting.quantity(obj.quantity)

    @admin.display(description="Price")
    def price_display(self, obj):
        return formatting.price(obj.price)

    @admin.display(description="Fees")
    def fees_display(self, obj):
        return formatting.money(obj.fees, obj.currency)

    @admin.display(description="Status", ordering="status")
    def status_display(self, obj):
        if obj.is_removed:
            return mark_safe('<span class="run-status run-status-failed">Removed</span>')
        if obj.status == Transaction.Status.PENDING:
            return mark_safe('<span class="run-status run-status-running">Pending</span>')
        return ""

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
        "account_label",
        "asset_type",
        "quantity_display",
        "price_display",
        "market_value_display",
        "active_display",
    )
    list_filter = ("is_active", "asset_type", "currency", ("account", admin.RelatedOnlyFieldListFilter))
    search_fields = ("symbol", "name", "provider_holding_id")
    date_hierarchy = "as_of"
    list_select_related = ("account__connection",)

    @admin.display(description="Account", ordering="account__name")
    def account_label(self, obj):
        return obj.account.label

    @admin.display(description="Quantity", ordering="quantity")
    def quantity_display(self, obj):
        return formatting.quantity(obj.quantity)

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj):
        return formatting.price(obj.price)

    @admin.display(description="Market value", ordering="market_value")
    def market_value_display(self, obj):
        return money_cell(obj.market_value, obj.currency)

    @admin.display(description="Cost basis", ordering="cost_basis")
    def cost_basis_display(self, obj):
        return formatting.money(obj.cost_basis, obj.currency)

    @admin.display(description="Active", ordering="is_active")
    def active_display(self, obj):
        return "" if obj.is_active else mark_safe('<span class="run-status run-status-skipped">Sold / gone</span>')


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "kind", "status_badge", "target", "by", "counts", "duration_display")
    list_filter = ("kind", "status", "source", "started_at", "force", "reason_code")
    search_fields = ("connection__name", "account__name", "actor__username", "reason_code", "message")
    date_hierarchy = "started_at"
    list_select_related = ("connection", "account", "actor")
    readonly_fields = ("audit_trail", "duration_display")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        label = obj.get_status_display()
        if obj.reason_code:
            label = f"{label} ({obj.reason_code})"
        return format_html('<span class="run-status run-status-{}">{}</span>', obj.status, label)

    @admin.display(description="Connection · account", ordering="connection__name")
    def target(self, obj):
        parts = [str(obj.connection) if obj.connection_id else (obj.connection_label or "-")]
        if obj.account_id:
            parts.append(str(obj.account))
        elif obj.account_label:
            parts.append(obj.account_label)
        return " · ".join(parts)

    @admin.display(description="By", ordering="actor__username")
    def by(self, obj):
        return f"{obj.actor or obj.actor_label or '-'} ({obj.get_source_display()})"

    @admin.display(description="Rows")
    def counts(self, obj):
        """'3 created · 2 updated · 40 unchanged', only the counts that are not zero."""
        parts = [
            f"{formatting.count(n)} {label}"
            for n, label in (
                (obj.created_count, "created"),
                (obj.updated_count, "updated"),
                (obj.unchanged_count, "unchanged"),
                (obj.removed_count, "removed"),
            )
            if n
        ]
        return " · ".join(parts) or "-"

    @admin.display(description="Duration")
    def duration_display(self, obj):
        return formatting.duration(obj.duration)

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
    list_display = ("occurred_at", "event", "by", "target", "summary")
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

    @admin.display(description="By", ordering="actor_label")
    def by(self, obj):
        return f"{obj.actor_label or '-'} ({obj.source or '-'})"

    @admin.display(description="Connection · account")
    def target(self, obj):
        connection = _admin_link(_related(obj, "connection"), obj.connection_id)
        if not obj.account_id:
            return connection
        return format_html("{} · {}", connection, _admin_link(_related(obj, "account"), obj.account_id))

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
