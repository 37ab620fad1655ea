"""FinSync URL configuration: the admin console and the REST API."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
