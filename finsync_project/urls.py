"""FinSync URL configuration: the admin console and the REST API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Log in and out of the browsable API (session authentication).
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("sync.api.urls")),
]

handler400 = "sync.api.views.bad_request"
handler404 = "sync.api.views.page_not_found"
