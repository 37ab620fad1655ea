"""API views: parse input, call one service or handler, translate the result.

Querysets come from `sync.selectors`, so every list and lookup is limited to
what the caller may see; another user's object is simply "not found".
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import defaults
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, NotFound
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from sync import errors, selectors
from sync.api import filters, serializers
from sync.api.exceptions import REQUEST_TOO_LARGE, STATUS_BY_CODE
from sync.api.throttling import ConnectRateThrottle, SyncRateThrottle
from sync.commands import ImportStatement, SyncAccounts, SyncHoldings, SyncTransactions
from sync.models import Account, AuditEvent, Connection, Holding, Source, SyncRun, Transaction
from sync.services import balances, oauth
from sync.services import plaid as plaid_services
from sync.services.connection_sync import sync_connection
from sync.services.connections import create_connection, disconnect_connection, reconnect_connection
from sync.services.edits import edit_transaction
from sync.services.handlers import import_statement, sync_accounts, sync_holdings, sync_transactions

_ERROR = serializers.ErrorSerializer


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    descriptions = {
        400: "Invalid input (`validation_error` with per-field `fields`, or `parse_error`).",
        401: "Not authenticated.",
        403: "Permission denied (e.g. a session request without a CSRF token).",
        404: "Not found (also another user's object, or a page past the end).",
        409: "`sync_in_progress`, `reauth_required`, `connection_inactive` or `credentials_invalid`.",
        429: "Too many sync or connect requests (`throttled`, with a Retry-After header).",
        502: "`provider_unavailable` or `provider_bad_response`.",
        503: "`provider_rate_limited`, with a Retry-After header.",
    }
    return {
        code: OpenApiResponse(
            _ERROR,
            description=descriptions[code],
            examples=[
                OpenApiExample(f"{code} {body['code']}", value=body, response_only=True, status_codes=[str(code)])
            ],
        )
        for code in codes
        for body in [ERROR_EXAMPLES[code]]
    }


# One body per status, as clients receive it (sync/api/exceptions.py).
ERROR_EXAMPLES = {
    400: {"code": "validation_error", "message": "Invalid input.", "fields": {"start_date": ["Enter a valid date."]}},
    401: {"code": "not_authenticated", "message": "Authentication credentials were not provided."},
    403: {"code": "permission_denied", "message": "CSRF Failed: CSRF token missing."},
    404: {"code": "not_found", "message": "Not found."},
    409: {"code": "reauth_required", "message": "the connection needs re-authentication with the provider"},
    429: {"code": "throttled", "message": "Request was throttled. Expected available in 12 seconds."},
    502: {"code": "provider_unavailable", "message": "demo: the provider answered 503"},
    503: {"code": "provider_rate_limited", "message": "demo: rate limited", "retry_after": 30},
}


READ_ERRORS = _errors(400, 401, 403, 404)
STATEMENT_FORM_OVERHEAD = 64 * 1024  # a multipart body's boundaries and headers around the file
SYNC_ERRORS = _errors(400, 401, 403, 404, 409, 429, 502, 503)


def _uuid_or_404(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


class CallerScoped:
    """Views whose queryset is what the caller may see (`selector(user)`), never more."""

    queryset = None
    selector = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset  # schema generation: the model only
        return type(self).selector(self.request.user)


@extend_schema_view(
    list=extend_schema(
        summary="List your connections", responses={200: serializers.ConnectionSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a connection", responses={200: serializers.ConnectionSerializer, **READ_ERRORS}
    ),
    create=extend_schema(
        summary="Connect to a provider",
        request=serializers.ConnectionCreateSerializer,
        responses={201: serializers.ConnectionSerializer, **_errors(400, 401, 403, 409, 429, 502, 503)},
    ),
    destroy=extend_schema(
        summary="Disconnect (status becomes `disconnected`; synced data is kept)",
        responses={204: None, **READ_ERRORS},
    ),
)
class ConnectionViewSet(
    CallerScoped,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Connections to providers; create with credentials, which are never returned."""

    serializer_class = serializers.ConnectionSerializer

    queryset = Connection.objects.none()
    selector = staticmethod(selectors.owned_connections)

    def get_serializer_class(self):
        # The browsable API's form follows the action's input.
        if self.action == "create":
            return serializers.ConnectionCreateSerializer
        return super().get_serializer_class()

    def get_throttles(self):
        if self.action in ("sync_accounts", "sync_transactions", "import_statement", "sync_everything"):
            return [SyncRateThrottle()]
        if self.action in ConnectRateThrottle.actions or self.action == "authorize":
            return [ConnectRateThrottle()]
        return super().get_throttles()

    @method_decorator(sensitive_variables("request", "data"))
    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            connection = create_connection(
                owner=request.user,
                provider=data.validated_data["provider"],
                name=data.validated_data["name"],
                options=data.validated_data["credentials"],
                actor=request.user,
                source=Source.API,
            )
        except (errors.ValidationError, errors.CredentialsInvalid) as error:
            # Rejected connect inputs are the client's to fix: a 400 naming the input
            # (`credentials.<input>`), with `credentials` itself carrying every message about it.
            fields = dict(error.fields)
            about_credentials = [m for name, ms in fields.items() if name.startswith("credentials.") for m in ms]
            if about_credentials or not fields:
                fields.setdefault("credentials", []).extend(about_credentials or [error.message])
            raise errors.ValidationError(error.message, fields=fields) from None
        shown = serializers.ConnectionSerializer(connection, context=self.get_serializer_context())
        return Response(shown.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start an OAuth provider's login (Schwab): answers the URL to send the browser to",
        request=serializers.AuthorizeSerializer,
        responses={200: serializers.AuthorizeStartSerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"], url_path="authorize", serializer_class=serializers.AuthorizeSerializer)
    def authorize(self, request):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        start = oauth.start_authorization(
            user=request.user,
            provider=body.validated_data["provider"],
            name=body.validated_data["name"],
            source=Source.API,
        )
        return Response(start.as_dict())

    @extend_schema(
        summary="Reconnect: new credentials for the same connection (OAuth providers answer an authorize URL)",
        request=serializers.ReconnectSerializer,
        responses={
            200: OpenApiResponse(description="The reconnected connection, or `{authorize_url, state, expires_at}`."),
            **_errors(400, 401, 403, 404, 429, 502, 503),
        },
    )
    @action(detail=True, methods=["post"], url_path="reconnect", serializer_class=serializers.ReconnectSerializer)
    @method_decorator(sensitive_variables("request", "body"))
    def reconnect(self, request, pk=None):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = reconnect_connection(
            connection_id=_uuid_or_404(pk),
            user=request.user,
            options=body.validated_data["credentials"],
            source=Source.API,
        )
        if isinstance(outcome, oauth.AuthorizeStart):
            return Response(outcome.as_dict())
        return Response(serializers.ConnectionSerializer(outcome, context=self.get_serializer_context()).data)

    def destroy(self, request, *args, **kwargs):
        disconnect_connection(connection_id=_uuid_or_404(kwargs["pk"]), user_id=request.user.pk, source=Source.API)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Sync the connection's accounts",
        request=serializers.SyncAccountsSerializer,
        responses={200: serializers.SyncResultSerializer, **SYNC_ERRORS},
    )
    @action(
        detail=True, methods=["post"], url_path="sync-accounts", serializer_class=serializers.SyncAccountsSerializer
    )
    def sync_accounts(self, request, pk=None):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        command = SyncAccounts(
            connection_id=_uuid_or_404(pk), user_id=request.user.pk, force=body.validated_data["force"]
        )
        return Response(sync_accounts(command, source=Source.API).as_dict())

    @extend_schema(
        summary="Sync the connection's transactions for a date window",
        request=serializers.SyncTransactionsSerializer,
        responses={200: serializers.SyncResultSerializer, **SYNC_ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="sync-transactions",
        serializer_class=serializers.SyncTransactionsSerializer,
    )
    def sync_transactions(self, request, pk=None):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        command = SyncTransactions(
            connection_id=_uuid_or_404(pk),
            user_id=request.user.pk,
            start_date=body.validated_data.get("start_date"),
            end_date=body.validated_data.get("end_date"),
            account_id=body.validated_data.get("account_id"),
            force=body.validated_data["force"],
        )
        return Response(sync_transactions(command, source=Source.API).as_dict())

    @extend_schema(
        operation_id="syncConnection",
        summary="Sync everything: accounts, then transactions, then holdings",
        description='Runs every kind in order, like the admin\'s "Sync everything": accounts, transactions (the '
        "default window), then the holdings of each investment account. Each kind has its own result; one "
        "failing does not hide the others (a connection that needs re-authentication stops the rest). "
        "Recently synced kinds are skipped unless `force` is true.",
        request=serializers.SyncAccountsSerializer,
        responses={200: serializers.ConnectionSyncSerializer, **SYNC_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="sync", serializer_class=serializers.SyncAccountsSerializer)
    def sync_everything(self, request, pk=None):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection_id = _uuid_or_404(pk)
        outcomes = sync_connection(
            connection_id=connection_id, user_id=request.user.pk, force=body.validated_data["force"], source=Source.API
        )
        if outcomes and outcomes[0].failed and outcomes[0].error.code == errors.NotFound.code:
            raise outcomes[0].error  # not the caller's (or no such connection): a 404 like the other syncs
        rows = [outcome.as_dict() for outcome in outcomes]
        counts = {status: sum(row["status"] == status for row in rows) for status in ("succeeded", "skipped", "failed")}
        return Response({"connection_id": str(connection_id), **counts, "results": rows})

    @extend_schema(
        summary="Import an OFX or QFX statement file (a connection of the provider `ofx`)",
        request={"multipart/form-data": serializers.StatementUploadSerializer},
        responses={
            200: serializers.SyncResultSerializer,
            **SYNC_ERRORS,
            413: OpenApiResponse(
                _ERROR,
                description="The file is larger than FINSYNC_MAX_STATEMENT_BYTES.",
                examples=[OpenApiExample("413", value=REQUEST_TOO_LARGE, response_only=True, status_codes=["413"])],
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="statements",
        parser_classes=[MultiPartParser],
        serializer_class=serializers.StatementUploadSerializer,
    )
    def import_statement(self, request, pk=None):
        limit = settings.FINSYNC_MAX_STATEMENT_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + STATEMENT_FORM_OVERHEAD:
            # Refused before the body is read (or spooled to disk) at all.
            return Response(REQUEST_TOO_LARGE, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        # At most one byte over the limit is read: enough for the service to refuse it.
        content = upload.read(limit + 1)
        command = ImportStatement(
            connection_id=_uuid_or_404(pk),
            user_id=request.user.pk,
            filename=upload.name or "",
            content=content,
            force=body.validated_data["force"],
        )
        # The upload is read, applied and dropped: nothing keeps it.
        return Response(import_statement(command, source=Source.API).as_dict())


@extend_schema_view(
    list=extend_schema(
        summary="List your accounts", responses={200: serializers.AccountSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(summary="Get an account", responses={200: serializers.AccountSerializer, **READ_ERRORS}),
)
class AccountViewSet(CallerScoped, viewsets.ReadOnlyModelViewSet):
    """Your accounts; `?search=` matches the name, mask and connection name, `?ordering=` sorts."""

    serializer_class = serializers.AccountSerializer
    filterset_class = filters.AccountFilter
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["name", "mask", "connection__name"]
    ordering_fields = ["name", "balance", "type", "balance_date", "created_at"]

    queryset = Account.objects.none()
    selector = staticmethod(selectors.owned_accounts)

    def get_throttles(self):
        if self.action == "sync_holdings":
            return [SyncRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        summary="An account's daily balances",
        description="One point per day from `start` to `end` (both included): the closing balance and where it "
        "comes from. Days after the latest known balance are not guessed.",
        parameters=[serializers.BalanceWindowSerializer],
        responses={200: serializers.AccountBalancesSerializer, **READ_ERRORS},
    )
    @action(detail=True, methods=["get"], url_path="balances", filterset_class=None, pagination_class=None)
    def balances(self, request, pk=None):
        window = serializers.BalanceWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        start, end = window.validated_data.get("start"), window.validated_data.get("end")
        if start and end:
            balances.resolve_window(None, start=start, end=end, first=None, last=end)  # start <= end, bounded
        account = self.get_object()
        points = balances.daily_balances(account, start=start, end=end)
        return Response({"account": account.pk, "currency": account.currency, "points": [p.as_dict() for p in points]})

    @extend_schema(
        summary="Sync the account's holdings",
        request=serializers.SyncHoldingsSerializer,
        responses={200: serializers.SyncResultSerializer, **SYNC_ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="sync-holdings",
        serializer_class=serializers.SyncHoldingsSerializer,
        filterset_class=None,
    )
    def sync_holdings(self, request, pk=None):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        command = SyncHoldings(account_id=_uuid_or_404(pk), user_id=request.user.pk, force=body.validated_data["force"])
        return Response(sync_holdings(command, source=Source.API).as_dict())


@extend_schema_view(
    list=extend_schema(
        summary="List your transactions", responses={200: serializers.TransactionSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get a transaction", responses={200: serializers.TransactionSerializer, **READ_ERRORS}
    ),
    partial_update=extend_schema(
        summary="Set a transaction's category and notes",
        responses={200: serializers.TransactionSerializer, **READ_ERRORS},
    ),
)
class TransactionViewSet(CallerScoped, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Transactions; `category` and `notes` are the user's and a sync never overwrites them."""

    serializer_class = serializers.TransactionSerializer
    filterset_class = filters.TransactionFilter
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["description", "payee", "category", "provider_category", "notes", "symbol"]
    ordering_fields = ["posted_date", "amount", "description", "payee", "category", "created_at"]
    http_method_names = ["get", "patch", "head", "options"]

    queryset = Transaction.objects.none()
    selector = staticmethod(selectors.owned_transactions)

    def perform_update(self, serializer):
        # The service writes only the changed columns and audits the edit.
        serializer.instance = edit_transaction(
            transaction_id=serializer.instance.pk,
            user_id=self.request.user.pk,
            source=Source.API,
            category=serializer.validated_data.get("category"),
            notes=serializer.validated_data.get("notes"),
        )


@extend_schema_view(
    list=extend_schema(
        summary="List your holdings", responses={200: serializers.HoldingSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(summary="Get a holding", responses={200: serializers.HoldingSerializer, **READ_ERRORS}),
)
class HoldingViewSet(CallerScoped, viewsets.ReadOnlyModelViewSet):
    """Your holdings; `?search=` matches the symbol and name, `?ordering=` sorts."""

    serializer_class = serializers.HoldingSerializer
    filterset_class = filters.HoldingFilter
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["symbol", "name"]
    ordering_fields = ["symbol", "name", "market_value", "quantity", "as_of"]

    queryset = Holding.objects.none()
    selector = staticmethod(selectors.owned_holdings)


@extend_schema_view(
    list=extend_schema(
        summary="List sync runs", responses={200: serializers.SyncRunSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(summary="Get a sync run", responses={200: serializers.SyncRunSerializer, **READ_ERRORS}),
)
class SyncRunViewSet(CallerScoped, viewsets.ReadOnlyModelViewSet):
    """Every sync attempt on your connections, whatever its outcome: counts, reason and timing."""

    serializer_class = serializers.SyncRunSerializer
    filterset_class = filters.SyncRunFilter

    queryset = SyncRun.objects.none()
    selector = staticmethod(selectors.owned_sync_runs)


@extend_schema_view(
    list=extend_schema(
        summary="List audit events", responses={200: serializers.AuditEventSerializer(many=True), **READ_ERRORS}
    ),
    retrieve=extend_schema(
        summary="Get an audit event", responses={200: serializers.AuditEventSerializer, **READ_ERRORS}
    ),
)
class AuditEventViewSet(CallerScoped, viewsets.ReadOnlyModelViewSet):
    """The append-only log of what happened to your connections: connects, syncs, edits, disconnects."""

    serializer_class = serializers.AuditEventSerializer
    filterset_class = filters.AuditEventFilter

    queryset = AuditEvent.objects.none()
    selector = staticmethod(selectors.owned_audit_events)


@require_GET
@sensitive_variables("code")
def oauth_callback(request, provider: str = "schwab"):
    """Where the provider sends the browser back (`?code=...&state=...`): the state alone says whose it is.

    A browser is redirected to the connection's admin page; an API client
    (`Accept: application/json`) gets `{"id", "status"}`. Refusals: the API's
    error JSON, or a short page for a browser (status 400/409/502/503).
    """
    wants_json = "application/json" in request.headers.get("Accept", "")
    user = request.user if request.user.is_authenticated else None
    try:
        connection = oauth.finish_authorization(
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),  # Django already URL-decoded it (`%40` -> `@`)
            error=request.GET.get("error", ""),
            expected_user=user,
            provider=provider,
            source=Source.API if wants_json else Source.ADMIN,
        )
    except errors.SyncError as error:
        status_code = STATUS_BY_CODE.get(error.code, 400)
        if wants_json:
            return JsonResponse({"code": error.code, "message": error.message}, status=status_code)
        return HttpResponse(f"{error.code}: {error.message}", status=status_code, content_type="text/plain")
    if wants_json:
        return JsonResponse({"id": str(connection.pk), "provider": connection.provider, "status": connection.status})
    return HttpResponseRedirect(reverse("admin:sync_connection_change", args=[connection.pk]))


class NetWorthView(APIView):
    """`GET /api/net-worth/`: your net worth over time, one series per currency."""

    @extend_schema(
        operation_id="getNetWorth",
        summary="Your net worth over time",
        description="Per currency, the daily sum of your active accounts' closing balances (liabilities are "
        "negative). Defaults to the last 90 days up to today.",
        parameters=[serializers.BalanceWindowSerializer],
        responses={200: serializers.NetWorthSerializer, **READ_ERRORS},
    )
    def get(self, request):
        window = serializers.BalanceWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        start, end = window.validated_data.get("start"), window.validated_data.get("end")
        today = timezone.localdate()
        if start and not end:
            end = max(start, today)
        start, end = balances.resolve_window(None, start=start, end=end, first=None, last=today)
        series = balances.net_worth(selectors.owned_accounts(request.user), start=start, end=end)
        return Response(
            {
                "start": start,
                "end": end,
                "currencies": [
                    {
                        "currency": s.currency,
                        "accounts": s.accounts,
                        "points": [{"date": d.isoformat(), "balance": str(v)} for d, v in s.points],
                    }
                    for s in series
                ],
            }
        )


class DocsView(SpectacularSwaggerView):
    """The API docs (Swagger UI); an anonymous visitor is sent to log in and comes back here."""

    def handle_exception(self, exc):
        if isinstance(exc, (NotAuthenticated, AuthenticationFailed)):
            return redirect_to_login(self.request.get_full_path(), login_url=reverse("rest_framework:login"))
        return super().handle_exception(exc)


def bad_request(request, exception):
    """handler400: under /api/, Django's own 400s (e.g. a body too large for a non-DRF view) as API JSON."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(REQUEST_TOO_LARGE, status=413)
    return JsonResponse({"code": "bad_request", "message": "Bad request."}, status=400)


def page_not_found(request, exception):
    """handler404: API paths that match no route get the API's JSON error, others Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


# --- Plaid: Link tokens and webhooks -----------------------------------------------------------------


class PlaidLinkTokenView(APIView):
    """A Plaid Link token for the caller (POST): to add an Item, or update mode for one of their connections."""

    throttle_classes = (ConnectRateThrottle,)

    @extend_schema(
        summary="Create a Plaid Link token",
        request=serializers.PlaidLinkTokenRequestSerializer,
        responses={200: serializers.PlaidLinkTokenSerializer, **_errors(400, 404, 409, 502, 503)},
    )
    def post(self, request):
        body = serializers.PlaidLinkTokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = plaid_services.create_link_token(
            user=request.user,
            investments=body.validated_data["investments"],
            connection_id=body.validated_data.get("connection_id"),
        )
        return Response({"link_token": token.link_token, "expiration": token.expiration})


class _RawBody(BaseParser):
    """Leaves the body unread: the webhook's signature covers its exact bytes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class PlaidWebhookView(APIView):
    """Plaid's webhooks (POST): no session or token; verified by their Plaid-Verification JWT instead."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = (_RawBody,)
    throttle_classes = ()

    @extend_schema(
        summary="Receive a Plaid webhook",
        request=serializers.PlaidWebhookSerializer,
        responses={200: serializers.PlaidWebhookAnswerSerializer, **_errors(401)},
    )
    def post(self, request):
        outcome = plaid_services.handle_plaid_webhook(
            body=request.body, verification=request.headers.get("Plaid-Verification")
        )
        return Response({"action": outcome.action})
