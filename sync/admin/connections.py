"""The connection admin: the list, sync controls, creation with write-only credential fields, and disconnecting.

Connections are never deleted here: "Disconnect" (an action and a button on the
change page, for staff who may change connections) replaces delete, so the
synced data and the sync history stay.
"""

from __future__ import annotations

import inspect
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import display_for_value, quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from providers.registry import get_provider_class, provider_slugs
from sync import formatting
from sync.admin.charts import money
from sync.admin.controls import SyncControlsMixin, sync_actions
from sync.admin.jobs import jobs_link
from sync.admin.reporting import report, report_outcomes
from sync.commands import ImportStatement
from sync.errors import SyncError
from sync.models import Account, AuditEvent, Connection, Source, SyncRun
from sync.services import oauth
from sync.services import plaid as plaid_services
from sync.services.connection_sync import sync_connection
from sync.services.connections import create_connection, disconnect_connection, reconnect_connection
from sync.services.handlers import import_statement

CONNECTION_SYNCS = (
    ("everything", "Sync everything"),
    ("accounts", "Sync accounts"),
    ("transactions", "Sync transactions"),
    ("holdings", "Sync holdings"),
)
KINDS = {
    "everything": ("accounts", "transactions", "holdings"),
    "accounts": ("accounts",),
    "transactions": ("transactions",),
    "holdings": ("holdings",),
}
CREDENTIAL_PREFIX = "connect_"
PLAID = "plaid"
# Plaid Link runs in the browser from Plaid's CDN: the only script the admin loads from outside,
# and only on the "Add a Plaid connection" page and a Plaid connection's reconnect panel.
PLAID_LINK_SCRIPT = "https://cdn.plaid.com/link/v2/stable/link-initialize.js"


def plaid_configured() -> bool:
    """Whether Plaid Link can be offered: FinSync's Plaid client id and secret are set (read per request)."""
    return bool(settings.PLAID_CLIENT_ID and settings.PLAID_SECRET)


def _secret_field_names() -> tuple[str, ...]:
    fields = (field for slug in provider_slugs() for field in get_provider_class(slug).connect_fields)
    return tuple(sorted({field.name for field in fields if field.secret}))


# Hidden from error reports (the debug page, mail to ADMINS) when the add view fails.
_SECRET_FIELDS = _secret_field_names()


class ConnectionAddForm(forms.ModelForm):
    """Owner, name and the provider's connect fields; `create_connection` does the rest.

    Subclassed per provider by `connection_add_form`, which adds one field per
    `connect_fields` entry; secret ones are password inputs never rendered back.
    """

    provider = forms.CharField(widget=forms.HiddenInput)
    actor = None  # the staff member adding the connection, set per request

    class Meta:
        model = Connection
        fields = ["owner", "name", "provider"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["name"].help_text = "Leave blank to use the provider's name."

    def connect_options(self) -> dict[str, str]:
        return {
            name.removeprefix(CREDENTIAL_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CREDENTIAL_PREFIX) and value not in ("", None)
        }

    @method_decorator(sensitive_variables("self"))
    def _post_clean(self):
        # Like UserCreationForm: once the fields are valid, the service validates the rest.
        super()._post_clean()
        if self.errors:
            return
        try:
            self.instance = create_connection(
                owner=self.cleaned_data["owner"],
                provider=self.cleaned_data["provider"],
                name=self.cleaned_data.get("name", ""),
                options=self.connect_options(),
                actor=self.actor,
                source="admin",
            )
        except SyncError as error:
            for field, problems in error.fields.items():
                target = field if field in self.fields else CREDENTIAL_PREFIX + field.removeprefix("credentials.")
                self.add_error(target if target in self.fields else None, problems)
            if not error.fields:
                self.add_error(None, error.message)


ACRONYMS = {"url": "URL", "id": "ID", "api": "API"}


def field_label(name: str) -> str:
    """'access_url' -> 'Access URL', 'setup_token' -> 'Setup token'."""
    words = [ACRONYMS.get(word, word) for word in name.split("_")]
    return " ".join([words[0] if words[0].isupper() else words[0].capitalize(), *words[1:]])


def provider_choice(slug: str) -> dict:
    """What the provider chooser says about a provider: its name, what it is, what it needs."""
    provider_class = get_provider_class(slug)
    summary = (inspect.getdoc(provider_class) or "").split("\n\n")[0].replace("\n", " ")
    secrets = [field_label(f.name) for f in provider_class.connect_fields if f.secret]
    required = [field_label(f.name) for f in provider_class.connect_fields if f.required and not f.secret]
    if secrets:
        needs = "Needs " + " or ".join(secrets) + (" and " + ", ".join(required) if required else "") + "."
    elif required:
        needs = "Needs " + ", ".join(required) + "."
    else:
        needs = "Needs nothing: every option has a default."
    return {"slug": slug, "name": provider_class.display_name, "summary": summary, "needs": needs}


def connection_add_form(slug: str, actor) -> type[ConnectionAddForm]:
    """The add form for one provider, with a field per declared connect field."""
    provider_class = get_provider_class(slug)
    attrs = {"actor": actor, "__module__": __name__}
    for field in provider_class.connect_fields:
        widget = forms.PasswordInput(render_value=False) if field.secret else forms.TextInput
        attrs[CREDENTIAL_PREFIX + field.name] = forms.CharField(
            label=field_label(field.name),
            help_text=field.help + (f" (default: {field.default})" if field.default else ""),
            initial=field.default or None,  # shown filled in: what the connection gets when left as is
            required=field.required,
            strip=not field.secret,
            widget=widget,
        )
    return type(f"{provider_class.__name__}ConnectionAddForm", (ConnectionAddForm,), attrs)


def _json_status(error: SyncError) -> int:
    """The status of a refusal answered as JSON to the admin's own script: 404 for not found, else 400.

    The script shows the answer's message either way; the code says which refusal it was.
    """
    return 404 if error.code == "not_found" else 400


def _imports_files(connection: Connection) -> bool:
    try:
        return get_provider_class(connection.provider).capabilities.imports_files
    except KeyError:
        return False


class AccountInline(admin.TabularInline):
    model = Account
    fields = ("name", "type", "subtype", "balance_display", "is_active", "transactions_synced_at", "holdings_synced_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Balance")
    def balance_display(self, obj):
        return f"{money(obj.balance)} {obj.currency}"


def _disconnect(modeladmin, request, obj, correlation_id) -> None:
    """Disconnect one connection through the service and say so."""
    if obj.status == Connection.Status.DISCONNECTED:
        modeladmin.message_user(request, f"{obj}: already disconnected", messages.INFO)
        return
    try:
        disconnect_connection(
            connection_id=obj.pk,
            user_id=request.user.pk,
            source=Source.ADMIN,
            correlation_id=correlation_id,
            as_staff=True,
        )
    except SyncError as error:
        modeladmin.message_user(request, f"{obj}: not disconnected: {error.message}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{obj}: disconnected (its data and history are kept)", messages.SUCCESS)


@admin.action(permissions=["change"], description="Disconnect (keeps the data and history)")
def disconnect(modeladmin, request, queryset):
    correlation_id = uuid.uuid4()
    for obj in queryset.order_by("name", "pk"):
        _disconnect(modeladmin, request, obj, correlation_id)


@admin.register(Connection)
class ConnectionAdmin(SyncControlsMixin, admin.ModelAdmin):
    sync_buttons = CONNECTION_SYNCS
    actions = [*sync_actions(CONNECTION_SYNCS), disconnect]
    list_display = (
        "name",
        "owner",
        "provider",
        "status_badge",
        "accounts_synced",
        "transactions_synced",
        "holdings_synced",
        "last_error_short",
    )
    list_filter = ("status", "provider", "accounts_synced_at", "transactions_synced_at")
    search_fields = ("name", "provider", "owner__username", "owner__email", "last_error")
    list_select_related = ("owner",)
    fieldsets = (
        (None, {"fields": ("name", "owner", "provider", "status", "reauth_due")}),
        (
            "Last sync",
            {
                "fields": (
                    "accounts_synced_at",
                    "transactions_synced_at",
                    "holdings_synced_at",
                    "last_error_code",
                    "last_error",
                    "last_error_at",
                )
            },
        ),
        ("History", {"fields": ("history",)}),
        ("Provider settings", {"fields": ("config", "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "owner",
        "provider",
        "status",
        "accounts_synced_at",
        "transactions_synced_at",
        "holdings_synced_at",
        "last_error_code",
        "last_error",
        "last_error_at",
        "history",
        "config",
        "created_at",
        "updated_at",
        "reauth_due",
    )
    inlines = (AccountInline,)

    class Media:
        css = {"all": ("sync/admin.css",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(last_holdings_sync=Max("accounts__holdings_synced_at"))

    # --- no deleting: disconnect instead -------------------------------------------

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would erase the history; see "Disconnect"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "plaid/link-token/",
                self.admin_site.admin_view(self.plaid_link_token_view),
                name="{}_{}_plaid_link_token".format(*info),
            ),
            path(
                "plaid/connect/",
                self.admin_site.admin_view(self.plaid_connect_view),
                name="{}_{}_plaid_connect".format(*info),
            ),
            path(
                "<path:object_id>/import-statement/",
                self.admin_site.admin_view(self.import_statement_view),
                name="{}_{}_import_statement".format(*info),
            ),
            path(
                "<path:object_id>/reconnect/",
                self.admin_site.admin_view(self.reconnect_view),
                name="{}_{}_reconnect".format(*info),
            ),
            path(
                "<path:object_id>/disconnect/",
                self.admin_site.admin_view(self.disconnect_view),
                name="{}_{}_disconnect".format(*info),
            ),
            *super().get_urls(),
        ]

    def disconnect_view(self, request, object_id):
        """The target of the change page's "Disconnect" button: POST only, change permission on the object."""
        obj, refusal = self.posted_object(request, object_id, self.has_change_permission)
        if refusal is not None:
            return refusal
        _disconnect(self, request, obj, uuid.uuid4())
        info = self.opts.app_label, self.opts.model_name
        url = reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)], current_app=self.admin_site.name)
        return HttpResponseRedirect(url)

    @method_decorator(sensitive_post_parameters())
    def reconnect_view(self, request, object_id):
        """The change page's "Reconnect" button: the owner gives the connection a new login.

        OAuth providers (Schwab): POST sends the browser to the provider's login,
        whose callback reconnects. Others: a form of the provider's connect fields.
        """
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if obj.owner_id != request.user.pk:
            raise PermissionDenied  # a login is its owner's to give
        provider_class = get_provider_class(obj.provider)
        back = HttpResponseRedirect(
            reverse("admin:sync_connection_change", args=[quote(obj.pk)], current_app=self.admin_site.name)
        )
        # The change page's button posts straight on for OAuth; other providers first show their fields.
        if request.method == "POST" and (provider_class.oauth or "submitted" in request.POST):
            fields = {f.name for f in provider_class.connect_fields}
            options = {k: v for k, v in request.POST.items() if k in fields and v != ""}
            try:
                outcome = reconnect_connection(connection_id=obj.pk, user=request.user, options=options, source="admin")
            except SyncError as error:
                self.message_user(
                    request, f"{obj}: could not reconnect ({error.code}): {error.message}", messages.ERROR
                )
                return back
            if isinstance(outcome, oauth.AuthorizeStart):
                return HttpResponseRedirect(outcome.authorize_url)
            self.message_user(request, f"{obj}: reconnected", messages.SUCCESS)
            return back
        return self._oauth_page(request, provider_class, connection=obj)

    # --- Plaid Link: a link token for the browser, the public token back --------------

    def _plaid_page(self, request):
        """ "Add a Plaid connection": a name, "investments" and a button opening Plaid Link (sync/plaid_link.js)."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add a Plaid connection",
            "plaid_link_script": PLAID_LINK_SCRIPT,
        }
        return TemplateResponse(request, "admin/sync/connection/plaid_connect.html", context)

    def plaid_link_token_view(self, request):
        """POST (session + CSRF): a Plaid Link token as JSON, `{"link_token", "expiration"}`.

        `investments=1` adds the investments product; `connection_id=ID` asks for
        update mode on the caller's own Plaid connection (anyone else's: 404).
        A refusal is `{"code", "message"}` with the error's status, never a 500.
        """
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        connection_id = request.POST.get("connection_id") or None
        if connection_id is None and not self.has_add_permission(request):
            raise PermissionDenied
        if connection_id is not None:
            try:
                connection_id = uuid.UUID(connection_id)
            except ValueError:
                return JsonResponse({"code": "not_found", "message": "connection not found"}, status=404)
        try:
            token = plaid_services.create_link_token(
                user=request.user,
                investments=request.POST.get("investments") in ("1", "on", "true"),
                connection_id=connection_id,
            )
        except SyncError as error:
            return JsonResponse({"code": error.code, "message": error.message}, status=_json_status(error))
        return JsonResponse({"link_token": token.link_token, "expiration": token.expiration})

    @method_decorator(sensitive_post_parameters("public_token"))
    def plaid_connect_view(self, request):
        """POST: exchange the public token Plaid Link gave (once) into a new connection of the signed-in user.

        Success lands on the new connection's page; a refusal (a token already
        exchanged, Plaid down) is an admin message on the Plaid page again.
        """
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request):
            raise PermissionDenied
        again = HttpResponseRedirect(
            reverse("admin:sync_connection_add", current_app=self.admin_site.name) + f"?provider={PLAID}"
        )
        public_token = request.POST.get("public_token", "").strip()
        if not public_token:
            self.message_user(request, "Plaid Link gave no public token: nothing was connected", messages.ERROR)
            return again
        try:
            connection = create_connection(
                owner=request.user,
                provider=PLAID,
                name=request.POST.get("name", ""),
                options={"public_token": public_token},
                actor=request.user,
                source="admin",
            )
        except SyncError as error:
            self.message_user(request, f"Plaid: not connected ({error.code}): {error.message}", messages.ERROR)
            return again
        self.message_user(request, f"{connection}: connected; use Sync everything to fetch its data", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:sync_connection_change", args=[quote(connection.pk)], current_app=self.admin_site.name)
        )

    def _oauth_page(self, request, provider_class, connection=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{'Reconnect' if connection else 'Connect'} {provider_class.display_name}",
            "provider_name": provider_class.display_name,
            "connection": connection,
            "fields": () if provider_class.oauth else provider_class.connect_fields,
            "button": f"{'Reconnect' if connection else 'Connect'}"
            + (f" {provider_class.display_name}" if provider_class.oauth else ""),
        }
        return TemplateResponse(request, "admin/sync/connection/oauth_connect.html", context)

    def oauth_connect_view(self, request, slug):
        """ "Connect Schwab": POST sends the browser to the provider's login; its callback creates the connection."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        provider_class = get_provider_class(slug)
        if request.method != "POST":
            return self._oauth_page(request, provider_class)
        try:
            start = oauth.start_authorization(
                user=request.user, provider=slug, name=request.POST.get("name", ""), source="admin"
            )
        except SyncError as error:
            self.message_user(request, f"{error.code}: {error.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:sync_connection_changelist", current_app=self.admin_site.name))
        return HttpResponseRedirect(start.authorize_url)

    def import_statement_view(self, request, object_id):
        """The target of the change page's "Import statement" upload: POST only, the sync permission on the object.

        The file is read (at most one byte over FINSYNC_MAX_STATEMENT_BYTES),
        imported and dropped; the outcome is an admin message.
        """
        obj, refusal = self.posted_object(request, object_id, self.has_sync_permission)
        if refusal is not None:
            return refusal
        info = self.opts.app_label, self.opts.model_name
        back = HttpResponseRedirect(
            reverse("admin:{}_{}_change".format(*info), args=[quote(obj.pk)], current_app=self.admin_site.name)
        )
        limit = settings.FINSYNC_MAX_STATEMENT_BYTES
        upload = request.FILES.get("file")
        if upload is None:
            self.message_user(request, f"{obj}: choose an OFX or QFX file to import", messages.ERROR)
            return back
        command = ImportStatement(
            connection_id=obj.pk,
            user_id=request.user.pk,
            filename=upload.name or "",
            content=upload.read(limit + 1),
            force=request.POST.get("force") in ("1", "on", "true"),
        )
        try:
            result = import_statement(command, source=Source.ADMIN)
        except SyncError as error:
            report(request, self, f"{obj} · {upload.name}", "statement", error=error)
        else:
            report(request, self, f"{obj} · {upload.name}", "statement", result=result)
        return back

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        can_disconnect = (
            obj is not None
            and obj.status != Connection.Status.DISCONNECTED
            and self.has_change_permission(request, obj)
        )
        can_import = (
            obj is not None
            and obj.status == Connection.Status.ACTIVE
            and _imports_files(obj)
            and self.has_sync_permission(request, obj)
        )
        can_reconnect = (
            obj is not None and obj.status == Connection.Status.NEEDS_REAUTH and obj.owner_id == request.user.pk
        )
        # A Plaid connection reconnects through Plaid Link in update mode, right on this page.
        plaid_reconnect = can_reconnect and obj.provider == PLAID and plaid_configured()
        extra_context = {
            **(extra_context or {}),
            "plaid_reconnect": plaid_reconnect,
            "plaid_link_script": PLAID_LINK_SCRIPT if plaid_reconnect else "",
            "can_reconnect": can_reconnect and not plaid_reconnect,
            "can_disconnect": can_disconnect,
            "can_import_statement": can_import,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="sync-status sync-status-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Re-authorize by")
    def reauth_due(self, obj):
        due = obj.reauth_due_at
        if due is None:
            return "-"
        if obj.reauth_warning:
            return format_html(
                '<strong class="sync-status sync-status-needs_reauth">{} (soon: use Reconnect)</strong>',
                display_for_value(due, "-"),
            )
        return display_for_value(due, "-")

    @admin.display(description="Holdings synced at", ordering="last_holdings_sync")
    def holdings_synced_at(self, obj):
        value = getattr(obj, "last_holdings_sync", None)
        if value is None:  # the change page's object is not annotated
            value = obj.accounts.aggregate(last=Max("holdings_synced_at"))["last"]
        return display_for_value(value, "-")

    # The list's short timestamps ('2026-12-07 16:46', 'never'): the columns fit 1366 px.
    @admin.display(description="Accounts synced at", ordering="accounts_synced_at")
    def accounts_synced(self, obj):
        return formatting.moment(obj.accounts_synced_at, missing="never")

    @admin.display(description="Transactions synced at", ordering="transactions_synced_at")
    def transactions_synced(self, obj):
        return formatting.moment(obj.transactions_synced_at, missing="never")

    @admin.display(description="Holdings synced at", ordering="last_holdings_sync")
    def holdings_synced(self, obj):
        return formatting.moment(getattr(obj, "last_holdings_sync", None), missing="never")

    @admin.display(description="Last error", ordering="last_error_at")
    def last_error_short(self, obj):
        if not obj.last_error_code:
            return "-"
        return format_html("<span title='{}'>{}</span>", obj.last_error, obj.last_error_code)

    @admin.display(description="Sync runs and audit trail")
    def history(self, obj):
        runs = SyncRun.objects.filter(connection=obj).count()
        events = AuditEvent.objects.filter(connection_id=obj.pk).aggregate(n=Count("pk"))["n"]
        return format_html(
            '<a href="{}?connection={}">{} sync runs</a> · <a href="{}?connection={}">{} audit events</a>',
            reverse("admin:sync_syncrun_changelist", current_app=self.admin_site.name),
            obj.pk,
            runs,
            reverse("admin:sync_auditevent_changelist", current_app=self.admin_site.name),
            obj.pk,
            events,
        ) + jobs_link(obj, self.admin_site.name)

    # --- adding: provider first, then its connect fields --------------------------

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        slug = request.GET.get("provider", "")
        provider_class = get_provider_class(slug)
        names = tuple(CREDENTIAL_PREFIX + field.name for field in provider_class.connect_fields)
        # Only a provider that asks for secrets says how they are kept (the demo asks for none).
        if any(field.secret for field in provider_class.connect_fields):
            description = "Secrets are stored encrypted and never shown again."
        else:
            description = "No secret is needed: every field is a setting, shown with its default."
        return (
            (None, {"fields": ("owner", "name", "provider")}),
            (f"{provider_class.display_name}: connect fields", {"fields": names, "description": description}),
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return connection_add_form(request.GET.get("provider", ""), request.user)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changeform_initial_data(self, request):
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    @method_decorator(sensitive_post_parameters(*(CREDENTIAL_PREFIX + name for name in _SECRET_FIELDS)))
    def add_view(self, request, form_url="", extra_context=None):
        slug = request.GET.get("provider")
        if slug == PLAID and plaid_configured():
            if not self.has_add_permission(request):
                raise PermissionDenied
            return self._plaid_page(request)
        if slug in provider_slugs() and get_provider_class(slug).oauth:
            return self.oauth_connect_view(request, slug)
        if slug not in provider_slugs():
            if not self.has_add_permission(request):
                return super().add_view(request, form_url, extra_context)  # raises PermissionDenied
            providers = [provider_choice(slug) for slug in provider_slugs()]
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Add connection: choose a provider",
                "providers": providers,
            }
            return TemplateResponse(request, "admin/sync/connection/choose_provider.html", context)
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:  # on add, create_connection has saved it already
            super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        # Land on the new connection's page, where its first sync is one button away,
        # rather than on a list of dashes.
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        if self.has_sync_permission(request, obj):
            hint = "run its first sync with “Sync everything” below."
        else:
            hint = "someone holding the sync permission (or the owner, through the API or the CLI) can sync it now."
        self.message_user(request, f"{obj}: connected; {hint}", messages.SUCCESS)
        url = reverse("admin:sync_connection_change", args=[quote(obj.pk)], current_app=self.admin_site.name)
        return HttpResponseRedirect(url)

    # --- syncing ----------------------------------------------------------------

    def run_sync(self, request, obj, kind, *, force, correlation_id):
        outcomes = sync_connection(
            connection_id=obj.pk,
            user_id=request.user.pk,
            kinds=KINDS[kind],
            force=force,
            source="admin",
            correlation_id=correlation_id,
        )
        report_outcomes(request, self, str(obj), outcomes)
