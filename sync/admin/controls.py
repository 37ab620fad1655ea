"""Sync controls shared by the connection and account admins.

Admin actions and the per-object "Sync" buttons are gated by the permission
`sync.sync_connection` together with the model's view permission (a sync is
run on something one can see): staff without both see neither, and a POST
anyway is 403.
Both only parse the request and call `run_sync`, which each admin implements
with one handler call per object.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from sync import selectors


def sync_action(kind: str, label: str, *, force: bool):
    """An admin action running `run_sync(kind)` on each selected object, one call per object."""

    def action(modeladmin, request, queryset):
        correlation_id = uuid.uuid4()
        for obj in queryset.order_by("name", "pk"):
            modeladmin.run_sync(request, obj, kind, force=force, correlation_id=correlation_id)

    action.__name__ = f"sync_{kind}_force" if force else f"sync_{kind}"
    description = f"{label} (force)" if force else label
    return admin.action(permissions=["sync"], description=description)(action)


def sync_actions(buttons) -> list:
    """The actions for `buttons` ((kind, label) pairs), then their "(force)" variants."""
    return [sync_action(kind, label, force=force) for force in (False, True) for kind, label in buttons]


class SyncControlsMixin:
    """Adds sync actions, a POST-only sync view and the buttons' context to a ModelAdmin.

    Subclasses set `sync_buttons` ((kind, label) pairs) and implement
    `run_sync(request, obj, kind, *, force, correlation_id)`.
    """

    sync_buttons: tuple[tuple[str, str], ...] = ()

    def has_sync_permission(self, request, obj=None) -> bool:
        """`sync.sync_connection` and the view permission on this model (on `obj`, when given)."""
        return selectors.may_sync_any(request.user) and self.has_view_permission(request, obj)

    def sync_action_names(self) -> set[str]:
        return {f"sync_{kind}{suffix}" for kind, _ in self.sync_buttons for suffix in ("", "_force")}

    def changelist_view(self, request, extra_context=None):
        # Django silently drops actions the user may not run; a sync POSTed anyway is refused outright.
        posted = set(request.POST.getlist("action")) if request.method == "POST" else set()
        if posted & self.sync_action_names() and not self.has_sync_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/sync/",
                self.admin_site.admin_view(self.sync_view),
                name="{}_{}_sync".format(*info),
            ),
            *super().get_urls(),
        ]

    def posted_object(
        self, request: HttpRequest, object_id: str, allowed: Callable[..., bool]
    ) -> tuple[Model | None, HttpResponse | None]:
        """The object of a per-object POST view (a button on its change page), or the answer refusing it.

        Like Django's own object views: 405 unless POST, PermissionDenied unless
        `allowed(request)` and `allowed(request, obj)`, the admin's redirect when
        the object does not exist.
        """
        if request.method != "POST":
            return None, HttpResponseNotAllowed(["POST"])
        if not allowed(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not allowed(request, obj):
            raise PermissionDenied
        return obj, None

    def sync_view(self, request, object_id):
        """The target of the change page's sync buttons: run one sync, report it, go back."""
        obj, refusal = self.posted_object(request, object_id, self.has_sync_permission)
        if refusal is not None:
            return refusal
        kind = request.POST.get("kind", "")
        if kind not in dict(self.sync_buttons):
            return HttpResponseBadRequest("unknown sync kind")
        force = request.POST.get("force") in ("1", "on", "true")
        self.run_sync(request, obj, kind, force=force, correlation_id=uuid.uuid4())
        info = self.opts.app_label, self.opts.model_name
        url = reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)], current_app=self.admin_site.name)
        return HttpResponseRedirect(url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "sync_buttons": self.sync_buttons_for(request, object_id) if self.has_sync_permission(request) else (),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def sync_buttons_for(self, request, object_id) -> tuple[tuple[str, str], ...]:
        """The buttons offered on this object's page (all of `sync_buttons` unless a subclass says otherwise)."""
        return self.sync_buttons

    def run_sync(self, request, obj, kind: str, *, force: bool, correlation_id) -> None:
        raise NotImplementedError
