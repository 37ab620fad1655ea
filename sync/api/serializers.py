"""Input validation and output shapes. Names are unique: they become OpenAPI component names."""

from __future__ import annotations

from datetime import date

from rest_framework import serializers

from providers.registry import provider_slugs
from sync.models import Account, AuditEvent, Connection, Holding, SyncKind, SyncRun, Transaction

SYNC_RESULT_STATUSES = [(SyncRun.Status.SUCCEEDED.value, "Succeeded"), (SyncRun.Status.SKIPPED.value, "Skipped")]


# --- connections -------------------------------------------------------------------


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection as the API shows it: never its credentials."""

    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="The owner's username.")
    url = serializers.HyperlinkedIdentityField(view_name="connection-detail", help_text="This object in the API.")

    class Meta:
        model = Connection
        fields = [
            "id",
            "url",
            "owner",
            "provider",
            "name",
            "status",
            "accounts_synced_at",
            "transactions_synced_at",
            "last_error",
            "last_error_code",
            "last_error_at",
            "reauth_due_at",
            "reauth_warning",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    # OAuth connections (Schwab): when the provider's login lapses, and whether that is within a day.
    reauth_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    reauth_warning = serializers.BooleanField(read_only=True)


class ConnectionCreateSerializer(serializers.Serializer):
    """`{provider, name, credentials}`: `credentials` are the provider's connect inputs."""

    provider = serializers.ChoiceField(
        choices=[], help_text="Provider slug, e.g. `demo`, `simplefin`, `plaid`, `alpaca`."
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    credentials = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        default=dict,
        help_text="The provider's connect inputs (demo: optional seed, accounts, transactions_per_account, "
        "history_days; simplefin: setup_token or access_url; plaid: access_token; alpaca: api_key_id, "
        "api_secret_key, optional environment paper or live). Never returned.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Adapters register at run time: read the slugs now, not at import.
        self.fields["provider"].choices = provider_slugs()

    # Only the shape is parsed here: the connection service validates the inputs themselves
    # (known keys, types, lengths, URLs, bounds) and names the field in its ValidationError.


class AuthorizeSerializer(serializers.Serializer):
    """`{provider, name}`: start an OAuth provider's login (e.g. `schwab`)."""

    provider = serializers.CharField(max_length=50, help_text="An OAuth provider's slug, e.g. `schwab`.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class AuthorizeStartSerializer(serializers.Serializer):
    """Where to send the user's browser; the callback finishes the connection."""

    authorize_url = serializers.URLField()
    state = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ReconnectSerializer(serializers.Serializer):
    """`{credentials}`: the provider's connect inputs (none for an OAuth provider, which answers an authorize URL)."""

    credentials = serializers.DictField(child=serializers.JSONField(), required=False, default=dict)


# --- synced data -------------------------------------------------------------------


class AccountSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="account-detail", help_text="This object in the API.")

    class Meta:
        model = Account
        fields = [
            "id",
            "url",
            "connection",
            "provider_account_id",
            "name",
            "type",
            "subtype",
            "mask",
            "currency",
            "balance",
            "available_balance",
            "balance_date",
            "is_active",
            "transactions_synced_at",
            "holdings_synced_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    """A transaction; only the user's own `category` and `notes` can be changed."""

    url = serializers.HyperlinkedIdentityField(view_name="transaction-detail", help_text="This object in the API.")

    class Meta:
        model = Transaction
        fields = [
            "id",
            "url",
            "account",
            "provider_transaction_id",
            "posted_date",
            "transacted_at",
            "amount",
            "currency",
            "description",
            "payee",
            "provider_category",
            "activity_type",
            "symbol",
            "quantity",
            "price",
            "fees",
            "category",
            "notes",
            "status",
            "replaces",
            "is_removed",
            "removed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [name for name in fields if name not in ("category", "notes")]
        extra_kwargs = {"notes": {"max_length": 10_000}}

    def validate(self, attrs: dict) -> dict:
        # Silently ignoring a read-only field would let a client believe it changed it.
        read_only = sorted(set(getattr(self, "initial_data", {}) or {}) - {"category", "notes"})
        if read_only:
            raise serializers.ValidationError(
                {name: ["read-only: only category and notes can be changed"] for name in read_only}
            )
        return attrs


class HoldingSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="holding-detail", help_text="This object in the API.")

    class Meta:
        model = Holding
        fields = [
            "id",
            "url",
            "account",
            "provider_holding_id",
            "symbol",
            "name",
            "asset_type",
            "quantity",
            "price",
            "cost_basis",
            "market_value",
            "currency",
            "as_of",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SyncRunSerializer(serializers.ModelSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "connection",
            "connection_label",
            "account",
            "account_label",
            "actor",
            "actor_label",
            "source",
            "correlation_id",
            "force",
            "window_start",
            "window_end",
            "status",
            "reason_code",
            "message",
            "warnings",
            "created_count",
            "updated_count",
            "unchanged_count",
            "removed_count",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    payload = serializers.DictField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "event",
            "actor",
            "actor_label",
            "source",
            "correlation_id",
            "connection",
            "account",
            "sync_run",
            "payload",
            "occurred_at",
        ]
        read_only_fields = fields


# --- sync commands -----------------------------------------------------------------


class SyncAccountsSerializer(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text="Sync even if synced within the minimum interval.")


class WindowDateField(serializers.DateField):
    """A window end: a plausible calendar day, so window arithmetic never leaves the calendar."""

    earliest = date(1900, 1, 1)
    latest = date(2999, 12, 31)

    def to_internal_value(self, value) -> date:
        day = super().to_internal_value(value)
        if not self.earliest <= day <= self.latest:
            raise serializers.ValidationError(f"must be between {self.earliest} and {self.latest}")
        return day


class SyncTransactionsSerializer(serializers.Serializer):
    start_date = WindowDateField(
        required=False, allow_null=True, help_text="First day (inclusive); default end_date minus the default window."
    )
    end_date = WindowDateField(required=False, allow_null=True, help_text="Last day (inclusive); default today.")
    account_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Only this account of the connection."
    )
    force = serializers.BooleanField(default=False, help_text="Sync even if synced within the minimum interval.")


class SyncHoldingsSerializer(serializers.Serializer):
    force = serializers.BooleanField(default=False, help_text="Sync even if synced within the minimum interval.")


class StatementUploadSerializer(serializers.Serializer):
    """`multipart/form-data`: `file` (an OFX or QFX download) and `force`."""

    file = serializers.FileField(
        allow_empty_file=True, help_text="The OFX or QFX file (at most FINSYNC_MAX_STATEMENT_BYTES); not kept."
    )
    force = serializers.BooleanField(default=False, help_text="Import even if this file was imported already.")


class SyncResultSerializer(serializers.Serializer):
    """What a sync that did not fail returns: what it was, whether it ran or was skipped (and why),
    and how many records it created, updated, left unchanged or removed."""

    command = serializers.ChoiceField(choices=SyncKind.choices)
    status = serializers.ChoiceField(choices=SYNC_RESULT_STATUSES)
    connection_id = serializers.UUIDField()
    account_id = serializers.UUIDField(allow_null=True)
    sync_run_id = serializers.UUIDField()
    reason = serializers.CharField(allow_blank=True, help_text="Why a sync was skipped, e.g. `recently_synced`.")
    message = serializers.CharField(allow_blank=True)
    created = serializers.IntegerField(min_value=0)
    updated = serializers.IntegerField(min_value=0)
    unchanged = serializers.IntegerField(min_value=0)
    removed = serializers.IntegerField(min_value=0)
    warnings = serializers.ListField(child=serializers.CharField())


# --- errors ------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every error response: a stable `code`, a readable `message`, and details when they apply."""

    code = serializers.CharField(help_text="e.g. validation_error, not_found, sync_in_progress, throttled.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="validation_error only: messages per field (`parent.child` for nested fields).",
    )
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait before retrying.")
    sync_run_id = serializers.UUIDField(required=False, help_text="The failed sync run, when one was recorded.")


class PlaidLinkTokenRequestSerializer(serializers.Serializer):
    """A Plaid Link token: to add an Item (with investments if asked), or update mode for a connection."""

    investments = serializers.BooleanField(default=False, help_text="Ask Link for investments too.")
    connection_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Update mode: the Plaid connection to re-authenticate."
    )


class PlaidLinkTokenSerializer(serializers.Serializer):
    link_token = serializers.CharField()
    expiration = serializers.CharField(help_text="When the link token expires (Plaid's ISO 8601 time).")


class PlaidWebhookSerializer(serializers.Serializer):
    """What Plaid sends (the fields FinSync reads); taken only with a valid Plaid-Verification header."""

    webhook_type = serializers.CharField()
    webhook_code = serializers.CharField()
    item_id = serializers.CharField()


class PlaidWebhookAnswerSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="sync_transactions, sync_holdings, needs_reauth, disconnected or ignored.")


# --- balances over time ---------------------------------------------------------------


class BalanceWindowSerializer(serializers.Serializer):
    """`?start=&end=`: the days to return, both included (ISO dates)."""

    start = serializers.DateField(
        required=False, help_text="First day (default: the first day anything is known; net worth: 90 days back)."
    )
    end = serializers.DateField(required=False, help_text="Last day (default: the latest balance; net worth: today).")


class BalancePointSerializer(serializers.Serializer):
    """An account's closing balance on one day."""

    date = serializers.DateField()
    balance = serializers.DecimalField(max_digits=19, decimal_places=4, coerce_to_string=True)
    source = serializers.ChoiceField(
        choices=["current", "snapshot", "derived", "carried"],
        help_text="`current`: the account's balance on its balance date; `snapshot`: recorded by a sync that day; "
        "`derived`: rebuilt from a later balance and the posted transactions between; `carried`: an investment "
        "account's last recorded value (market values are not rebuilt from transactions).",
    )


class AccountBalancesSerializer(serializers.Serializer):
    account = serializers.UUIDField()
    currency = serializers.CharField()
    points = BalancePointSerializer(many=True)


class NetWorthPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    balance = serializers.DecimalField(max_digits=21, decimal_places=4, coerce_to_string=True)


class NetWorthCurrencySerializer(serializers.Serializer):
    """The daily sum of your active accounts' balances in one currency (liabilities are negative)."""

    currency = serializers.CharField()
    accounts = serializers.IntegerField(help_text="Active accounts counted.")
    points = NetWorthPointSerializer(many=True)


class NetWorthSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    currencies = NetWorthCurrencySerializer(many=True)


class ConnectionSyncSerializer(serializers.Serializer):
    """Every kind's result, in the order run, and how many succeeded, were skipped or failed."""

    connection_id = serializers.UUIDField()
    succeeded = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = serializers.ListField(
        child=serializers.DictField(), help_text="One SyncResult per kind (and per investment account for holdings)."
    )
