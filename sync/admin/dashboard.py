"""The admin index's dashboard: net worth over time, the last syncs, the connections that need a look."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from sync import selectors
from sync.admin.charts import Point, balance_chart
from sync.errors import ValidationError
from sync.models import Connection, SyncRun
from sync.services import balances

RECENT_RUNS = 8
ATTENTION_ROWS = 10
RANGE_LABELS = {"30d": "30 days", "90d": "90 days", "1y": "1 year"}


def dashboard_context(request) -> dict:
    """What the index shows above the app list; each part follows the viewer's permissions.

    Net worth is the viewer's own active accounts (staff seeing every user's
    connections still have one net worth: their own).
    """
    chosen = request.GET.get("range")
    chosen = chosen if chosen in RANGE_LABELS else balances.DEFAULT_RANGE
    try:
        start, end = balances.resolve_window(chosen, start=None, end=None, first=None, last=_today())
        series = balances.net_worth(selectors.owned_accounts(request.user), start=start, end=end)
    except ValidationError:  # pragma: no cover (the ranges offered are valid)
        series = []
    charts = [
        {
            "currency": s.currency,
            "accounts": s.accounts,
            "latest": s.points[-1][1] if s.points else None,
            "chart": balance_chart(
                [Point(day, value) for day, value in s.points], currency=s.currency, label="Net worth"
            ),
        }
        for s in series
    ]
    context = {
        "dashboard": True,
        "net_worth": charts,
        "net_worth_ranges": [(key, label, key == chosen) for key, label in RANGE_LABELS.items()],
    }
    if selectors.staff_may(request.user, "sync.view_syncrun"):
        context["recent_runs"] = list(
            SyncRun.objects.select_related("connection", "account").order_by("-started_at")[:RECENT_RUNS]
        )
    if selectors.staff_may(request.user, "sync.view_connection"):
        context["attention"] = list(selectors.needing_attention(Connection.objects.all())[:ATTENTION_ROWS])
    return context


def _today():
    return timezone.localdate()


def install(site: admin.AdminSite) -> None:
    """Give `site`'s index the dashboard's context (templates/admin/index.html draws it)."""
    index = site.index

    def index_with_dashboard(request, extra_context=None):
        return index(request, {**dashboard_context(request), **(extra_context or {})})

    site.index = index_with_dashboard
