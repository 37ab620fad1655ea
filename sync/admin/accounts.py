"""The account admin: balances, sync controls, and a change page with history, transactions and holdings."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.urls import reverse
from django.utils.safestring import mark_safe

from sync import formatting, selectors
from sync.admin.charts import Point, balance_chart
from sync.admin.controls import SyncControlsMixin, sync_actions
from sync.admin.records import money_cell
from sync.admin.reporting import report
from sync.commands import SyncHoldings, SyncTransactions
from sync.errors import SyncError
from sync.models import Account
from sync.services import balances
from sync.services.handlers import sync_holdings, sync_transactions

ACCOUNT_SYNCS = (("transactions", "Sync transactions"), ("holdings", "Sync holdings"))
HANDLERS = {"transactions": sync_transactions, "holdings": sync_holdings}
RANGE_LABELS = {"30d": "30 days", "90d": "90 days", "1y": "1 year", "all": "All"}
RECENT_ROWS = 20


@admin.register(Account)
class AccountAdmin(SyncControlsMixin, admin.ModelAdmin):
    """Accounts are the provider's data: read-only here, refreshed by syncing."""

    sync_buttons = ACCOUNT_SYNCS
    actions = sync_actions(ACCOUNT_SYNCS)
    # Fits 1366 px: the label names the connection; type and subtype share a column.
    list_display = (
        "label_display",
        "owner",
        "type_display",
        "balance_display",
        "active_display",
        "transactions_synced",
        "holdings_synced",
    )
    list_filter = ("is_active", "type", "currency", "connection__provider", "transactions_synced_at")
    search_fields = ("name", "mask", "provider_account_id", "connection__name", "connection__owner__username")
    list_select_related = ("connection", "connection__owner")
    fieldsets = (
        (None, {"fields": ("name", "connection", "type", "subtype", "mask", "currency", "is_active")}),
        ("Balance", {"fields": ("balance_display", "available_display", "balance_date")}),
        ("Last sync", {"fields": ("transactions_synced_at", "holdings_synced_at", "provider_account_id")}),
    )
    readonly_fields = ("balance_display", "available_display")

    class Media:
        css = {"all": ("sync/admin.css",)}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Balance", ordering="balance")
    def balance_display(self, obj):
        return money_cell(obj.balance, obj.currency)

    @admin.display(description="Available balance")
    def available_display(self, obj):
        return formatting.money(obj.available_balance, obj.currency)

    @admin.display(description="Account", ordering="name")
    def label_display(self, obj):
        return obj.label

    @admin.display(description="Type", ordering="type")
    def type_display(self, obj):
        return " · ".join(part for part in (obj.type, obj.subtype) if part) or "-"

    @admin.display(description="Is active", ordering="is_active")
    def active_display(self, obj):
        return "" if obj.is_active else mark_safe('<span class="run-status run-status-skipped">Inactive</span>')

    @admin.display(description="Transactions synced at", ordering="transactions_synced_at")
    def transactions_synced(self, obj):
        return formatting.moment(obj.transactions_synced_at, missing="never")

    @admin.display(description="Holdings synced at", ordering="holdings_synced_at")
    def holdings_synced(self, obj):
        return formatting.moment(obj.holdings_synced_at, missing="never")

    @admin.display(description="Owner", ordering="connection__owner__username")
    def owner(self, obj):
        return obj.connection.owner

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, unquote(object_id))
        if account is not None:
            chosen = request.GET.get("range")
            extra_context = {**(extra_context or {}), **self.history_context(account, chosen)}
        return super().change_view(request, object_id, form_url, extra_context)

    def history_context(self, account: Account, chosen: str | None = None) -> dict:
        chosen = chosen if chosen in balances.RANGES else balances.DEFAULT_RANGE
        series = balances.daily_balances(account)  # everything known; the range picks its tail
        if series and balances.RANGES[chosen] is not None:
            series = series[-balances.RANGES[chosen] :]
        sources = [p.source for p in series]
        name = self.admin_site.name
        return {
            "balance_chart": balance_chart(
                [Point(p.day, p.balance) for p in series],
                currency=account.currency,
                label=f"{account} balance",
            ),
            "balance_ranges": [(key, label, key == chosen) for key, label in RANGE_LABELS.items()],
            "no_holdings_reason": None
            if selectors.may_have_holdings(account)
            else f"No holdings sync: a {account.type or 'plain'} account has none (only investment accounts do).",
            "balance_days": len(series),
            "balance_last": series[-1] if series else None,
            "balance_snapshots": sources.count("snapshot") + sources.count("current"),
            "recent_transactions": account.transactions.order_by("-posted_date", "provider_transaction_id")[
                :RECENT_ROWS
            ],
            "holdings": account.holdings.filter(is_active=True).order_by("symbol", "name"),
            "transactions_url": reverse("admin:sync_transaction_changelist", current_app=name)
            + f"?account={account.pk}",
            "holdings_url": reverse("admin:sync_holding_changelist", current_app=name) + f"?account={account.pk}",
        }

    def sync_buttons_for(self, request, object_id):
        account = self.get_object(request, unquote(object_id))
        if account is None or selectors.may_have_holdings(account):
            return self.sync_buttons
        return tuple(button for button in self.sync_buttons if button[0] != "holdings")

    def run_sync(self, request, obj, kind, *, force, correlation_id):
        if kind == "holdings" and not selectors.may_have_holdings(obj):
            # Not a sync at all: say why rather than "Synced 0 holdings".
            self.message_user(
                request,
                f"{obj.connection.name} · {obj}: no holdings to sync: a {obj.type or 'plain'} account has none "
                "(only investment accounts do)",
                messages.INFO,
            )
            return
        if kind == "transactions":
            command = SyncTransactions(
                connection_id=obj.connection_id, account_id=obj.pk, user_id=request.user.pk, force=force
            )
        else:
            command = SyncHoldings(account_id=obj.pk, user_id=request.user.pk, force=force)
        target = f"{obj.connection.name} · {obj}"
        try:
            result = HANDLERS[kind](command, source="admin", correlation_id=correlation_id)
        except SyncError as error:
            report(request, self, target, kind, error=error)
        else:
            report(request, self, target, kind, result=result)
