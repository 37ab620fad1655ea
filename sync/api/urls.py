"""Routes under /api/."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from sync.api import views

router = DefaultRouter()
router.register("connections", views.ConnectionViewSet, basename="connection")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("transactions", views.TransactionViewSet, basename="transaction")
router.register("holdings", views.HoldingViewSet, basename="holding")
router.register("sync-runs", views.SyncRunViewSet, basename="sync-run")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("net-worth/", views.NetWorthView.as_view(), name="net-worth"),
    *router.urls,
    path("plaid/link-token/", views.PlaidLinkTokenView.as_view(), name="plaid-link-token"),
    path("webhooks/plaid/", views.PlaidWebhookView.as_view(), name="plaid-webhook"),
]
