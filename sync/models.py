"""FinSync's data: connections to providers, the synced records, sync runs and the audit log.

Constraints live in the database (unique provider identities, allowed status
values, one running sync per connection), not only in Python.

History survives deletion: no SyncRun or AuditEvent row ever disappears with
a connection, an account or a user. A connection that has sync runs cannot be
deleted (`SyncRun.connection` is PROTECT: a raw ORM delete raises
ProtectedError); the admin disconnects instead. A user who owns connections
cannot be deleted either (`Connection.owner` is PROTECT): their financial data
and its history are never removed as a side effect; deactivate the user
(`is_active=False`), which every service already treats as no user. Deleting a
user who only acted (staff, an operator) sets `SyncRun.actor` to null and keeps
`actor_label`; a deleted account leaves its runs with `account_label`. Audit
events hold plain ids with no database constraint, so nothing cascades into them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

MONEY = {"max_digits": 19, "decimal_places": 4}
QUANTITY = {"max_digits": 24, "decimal_places": 8}


def _choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class TimeStamped(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SyncKind(models.TextChoices):
    ACCOUNTS = "accounts", "Accounts"
    TRANSACTIONS = "transactions", "Transactions"
    HOLDINGS = "holdings", "Holdings"
    STATEMENT = "statement", "Statement import"


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    CLI = "cli", "CLI"
    # Syncs run by the job engine's workers (sync/services/jobs.py): on the schedule,
    # asked for by a provider's webhook (`request_sync`), or deferred by `sync --defer`.
    SCHEDULE = "schedule", "Schedule"
    WEBHOOK = "webhook", "Webhook"
    FLEET = "fleet", "Fleet"


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authentication"
    DISCONNECTED = "disconnected", "Disconnected"


class TransactionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"


class ActivityType(models.TextChoices):
    """What a brokerage activity is, where the provider says (empty for plain bank transactions)."""

    BUY = "buy", "Buy"
    SELL = "sell", "Sell"
    DIVIDEND = "dividend", "Dividend"
    INTEREST = "interest", "Interest"
    FEE = "fee", "Fee"
    TAX = "tax", "Tax"
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    TRANSFER = "transfer", "Transfer"
    SPLIT = "split", "Split"
    OTHER = "other", "Other"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class Connection(TimeStamped):
    """A user's link to one provider login (a SimpleFIN access URL, a Plaid item, a demo bank)."""

    Status = ConnectionStatus

    # PROTECT: deleting a user never deletes their connections and history (see the module docstring).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connections")
    provider = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Fernet token of the JSON credentials; see sync.crypto. Never shown.
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    config = models.JSONField(default=dict, blank=True, help_text="Non-secret provider settings.")
    cursor = models.TextField(blank=True, default="", help_text="Provider sync cursor (cursor providers).")
    accounts_synced_at = models.DateTimeField(null=True, blank=True)
    transactions_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_code = models.CharField(max_length=50, blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Set by `request_sync` (a provider's webhook says there is new data): the connection
    # is due whatever its last sync, and first in the queue; cleared when a sync job ran.
    sync_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The kinds asked for since the last served request (["transactions"], ["holdings"]...).
    sync_requested_kinds = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        ordering = ["owner_id", "name"]
        permissions = [("sync_connection", "Can sync any user's connections")]
        constraints = [_choices_check("status", ConnectionStatus, "connection_status_valid")]
        indexes = [models.Index(fields=["status", "transactions_synced_at"], name="connection_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"

    @property
    def reauth_due_at(self):
        """When the provider's login lapses and the user must re-authorize (OAuth providers: Schwab's 7 days
        from the authorization), from the config the connect or the last reconnect stored; None otherwise."""
        value = (self.config or {}).get("reauth_due_at")
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    @property
    def reauth_warning(self) -> bool:
        """True from the day before `reauth_due_at` (day 6 of Schwab's 7): time to re-authorize."""
        due = self.reauth_due_at
        return due is not None and due - timezone.now() <= REAUTH_WARNING_BEFORE


# How long before `reauth_due_at` a connection shows a re-authorization warning.
REAUTH_WARNING_BEFORE = timedelta(days=1)


class OAuthPurpose(models.TextChoices):
    CONNECT = "connect", "New connection"
    RECONNECT = "reconnect", "Reconnect"


class OAuthState(models.Model):
    """A single-use OAuth2 `state`: bound to a user and a purpose (a new connection, or reconnecting one).

    Only its SHA-256 is stored (the state itself travels in the browser's URLs);
    it expires after FINSYNC_OAUTH_STATE_SECONDS and is consumed by the callback
    (`used_at`), whatever the outcome. Created and consumed by sync.services.oauth.
    """

    Purpose = OAuthPurpose

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=50)
    purpose = models.CharField(max_length=20, choices=OAuthPurpose.choices)
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200, blank=True, default="")
    source = models.CharField(max_length=10, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            _choices_check("purpose", OAuthPurpose, "oauth_state_purpose_valid"),
            models.CheckConstraint(
                condition=Q(purpose="connect") | Q(connection__isnull=False), name="oauth_state_reconnect_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.purpose} ({self.created_at:%Y-%m-%d %H:%M})"


class Account(TimeStamped):
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="accounts")
    provider_account_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=50, blank=True, default="")
    subtype = models.CharField(max_length=50, blank=True, default="")
    mask = models.CharField(max_length=4, blank=True, default="", help_text="Last four characters only.")
    currency = models.CharField(max_length=3, default="USD")
    balance = models.DecimalField(**MONEY, null=True, blank=True)
    available_balance = models.DecimalField(**MONEY, null=True, blank=True)
    balance_date = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    transactions_synced_at = models.DateTimeField(null=True, blank=True)
    holdings_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "provider_account_id"], name="account_provider_identity"),
            models.CheckConstraint(condition=LessThanOrEqual(Length("mask"), 4), name="account_mask_last_four"),
            models.CheckConstraint(condition=LessThanOrEqual(Length("currency"), 3), name="account_currency_iso"),
        ]

    def __str__(self) -> str:
        if not self.mask:
            return self.name
        # "Everyday Checking 0001" with mask 0001 reads "Everyday Checking ••0001", not the digits twice.
        name = self.name
        if name.endswith(self.mask) and len(name) > len(self.mask):
            name = name[: -len(self.mask)].rstrip(" -#x*•") or self.name
        return f"{name} ••{self.mask}"

    @property
    def label(self) -> str:
        """The account and its connection: 'Everyday Checking ••0001 · Demo bank'."""
        return f"{self} · {self.connection.name}"


class Transaction(TimeStamped):
    Status = TransactionStatus
    ActivityType = ActivityType

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="transactions")
    provider_transaction_id = models.CharField(max_length=255)
    posted_date = models.DateField()
    transacted_at = models.DateTimeField(null=True, blank=True)
    amount = models.DecimalField(**MONEY, help_text="Positive means money into the account.")
    currency = models.CharField(max_length=3, default="USD")
    description = models.TextField(blank=True, default="")
    payee = models.CharField(max_length=255, blank=True, default="")
    provider_category = models.CharField(max_length=255, blank=True, default="")
    # Investment activity, where the provider reports it (null otherwise). Synced
    # fields like the ones above: `amount` stays the cash effect.
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices, null=True, blank=True)
    symbol = models.CharField(max_length=64, null=True, blank=True)
    quantity = models.DecimalField(
        **QUANTITY, null=True, blank=True, help_text="Units received (positive) or delivered (negative)."
    )
    price = models.DecimalField(**QUANTITY, null=True, blank=True, help_text="Price per unit.")
    fees = models.DecimalField(**MONEY, null=True, blank=True, help_text="Fees charged on this trade.")
    # The user's own fields: a sync never writes them (it only carries them
    # from a pending row to the posted row that replaces it).
    category = models.CharField(max_length=255, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POSTED)
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
        help_text="The pending transaction this posted one replaced.",
    )
    is_removed = models.BooleanField(default=False)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_date", "provider_transaction_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_transaction_id"], name="transaction_provider_identity"
            ),
            _choices_check("status", TransactionStatus, "transaction_status_valid"),
            models.CheckConstraint(
                condition=Q(activity_type__isnull=True) | Q(activity_type__in=ActivityType.values),
                name="transaction_activity_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(is_removed=False, removed_at__isnull=True) | Q(is_removed=True, removed_at__isnull=False),
                name="transaction_removed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["account", "posted_date"], name="transaction_account_date_idx")]

    def __str__(self) -> str:
        return f"{self.posted_date} {self.amount} {self.description[:40]}"


class TransactionSpan(models.Model):
    """The digest of a provider's raw rows for an account over [first_date, last_date], as last applied.

    Written by the transactions apply in the same database transaction as the
    rows: while it exists, the account's rows of that span are exactly what
    the provider sent, as stored (see providers.base.TransactionSpan). Every
    transactions apply of the account replaces the account's spans, so a span
    never outlives a change to its rows by a sync; nothing else writes the
    synced fields. A re-sync that meets the same digest skips those rows.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="transaction_spans")
    first_date = models.DateField()
    last_date = models.DateField()
    digest = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    synced_at = models.DateTimeField(help_text="When a sync first applied the span with this digest.")

    class Meta:
        ordering = ["account_id", "first_date"]
        constraints = [
            models.UniqueConstraint(fields=["account", "first_date", "last_date"], name="transaction_span_identity"),
            models.CheckConstraint(condition=Q(first_date__lte=F("last_date")), name="transaction_span_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.first_date}..{self.last_date}: {self.rows} rows"


class Holding(TimeStamped):
    """A position; a short position has a negative quantity (and a signed cost basis and market value)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="holdings")
    provider_holding_id = models.CharField(max_length=255)
    symbol = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    asset_type = models.CharField(max_length=50, blank=True, default="")
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**QUANTITY, null=True, blank=True)
    cost_basis = models.DecimalField(**QUANTITY, null=True, blank=True)
    market_value = models.DecimalField(**QUANTITY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    as_of = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    cusip = models.CharField(max_length=12, blank=True, default="", help_text="The security's CUSIP, if reported.")

    class Meta:
        ordering = ["account_id", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["account", "provider_holding_id"], name="holding_provider_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol or self.name} x {self.quantity}"


class StatementImport(models.Model):
    """A statement file imported into a connection: its name, size and SHA-256, never its contents.

    One row per file and connection, written with the data of its first
    successful import: the same file again is `already_imported` unless forced.
    """

    id = models.BigAutoField(primary_key=True)
    # PROTECT, like SyncRun: connections are disconnected, never deleted.
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="statement_imports")
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveBigIntegerField()
    sync_run = models.ForeignKey(
        "SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="statement_imports"
    )
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["connection_id", "-imported_at"]
        constraints = [models.UniqueConstraint(fields=["connection", "sha256"], name="statement_import_once")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"


class BalanceSnapshot(models.Model):
    """A balance a sync observed; one row per account and `as_of`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="balance_snapshots")
    balance = models.DecimalField(**MONEY, null=True, blank=True)
    available = models.DecimalField(**MONEY, null=True, blank=True)
    as_of = models.DateTimeField()
    source = models.CharField(max_length=20, choices=SyncKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account_id", "-as_of"]
        get_latest_by = "as_of"
        constraints = [models.UniqueConstraint(fields=["account", "as_of"], name="balance_snapshot_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.as_of:%Y-%m-%d} {self.balance}"


class SyncRun(models.Model):
    """One sync attempt, whatever its outcome. A `running` run is the connection's claim.

    A run outlives what it was about: its connection cannot be deleted while it
    exists (PROTECT), a deleted account or actor leaves null and the label
    written when the run was created (`account_label`, `actor_label`).
    """

    Status = RunStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=SyncKind.choices)
    # Null only for an attempt on something the actor may not see (not found).
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.PROTECT, related_name="sync_runs"
    )
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_runs"
    )
    # What the run was about and who asked, as they were named when it was created.
    connection_label = models.CharField(max_length=300, blank=True, default="")
    account_label = models.CharField(max_length=300, blank=True, default="")
    actor_label = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=10, choices=Source.choices)
    correlation_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    force = models.BooleanField(default=False)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    reason_code = models.CharField(max_length=50, blank=True, default="")
    message = models.TextField(blank=True, default="")
    warnings = models.JSONField(default=list, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    removed_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"
        constraints = [
            _choices_check("kind", SyncKind, "sync_run_kind_valid"),
            _choices_check("source", Source, "sync_run_source_valid"),
            _choices_check("status", RunStatus, "sync_run_status_valid"),
            # The claim: at most one running sync per connection.
            models.UniqueConstraint(
                fields=["connection"], condition=Q(status="running"), name="one_running_sync_per_connection"
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_start__lte=models.F("window_end")),
                name="sync_run_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["connection", "-started_at"], name="sync_run_connection_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration(self):
        return None if self.finished_at is None else self.finished_at - self.started_at


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be updated")

    def delete(self):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")


class AuditLogIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEvent(models.Model):
    """Append-only record of a domain event. Never holds secrets.

    References are plain ids without database foreign keys, so that deleting a
    user or a connection neither cascades into nor rewrites the audit trail.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField(max_length=100, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=10, blank=True, default="")
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    sync_run = models.ForeignKey(
        SyncRun,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        get_latest_by = "occurred_at"

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.event}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit events cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")
