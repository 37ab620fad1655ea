"""FinSync URL configuration: the admin console and the REST API."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from sync.api.views import DocsView, oauth_callback

# The OAuth callback is served at SCHWAB_REDIRECT_URI's path (it must match the registered one exactly).
SCHWAB_CALLBACK_PATH = urlsplit(settings.SCHWAB_REDIRECT_URI).path.strip("/") or "oauth/schwab/callback"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Anonymous visitors are sent to the login page, then back to the docs.
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    # Log in and out of the browsable API (session authentication).
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("sync.api.urls")),
    path(SCHWAB_CALLBACK_PATH, oauth_callback, {"provider": "schwab"}, name="oauth-schwab-callback"),
]

handler400 = "sync.api.views.bad_request"
handler404 = "sync.api.views.page_not_found"
