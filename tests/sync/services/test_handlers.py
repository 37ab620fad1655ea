"""Handler rules from DESIGN.md, on the demo provider, against the real database."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from sync import errors
from sync.models import Account, AuditEvent, BalanceSnapshot, Connection, Holding, SyncRun, Transaction
from tests.factories import ConnectionFactory, SyncRunFactory
from tests.sync.helpers import accounts, data_snapshot, holdings, set_config, transactions

pytestmark = pytest.mark.django_db


def events(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("occurred_at").values_list("event", flat=True))


class TestAccounts:
    def test_first_sync_creates_accounts_snapshots_run_and_events(self, demo_connection, user):
        result = accounts(demo_connection, user)

        assert (result.status, result.created, result.updated, result.unchanged, result.removed) == (
            "succeeded",
            3,
            0,
            0,
            0,
        )
        assert Account.objects.filter(connection=demo_connection, is_active=True).count() == 3
        assert sorted(Account.objects.values_list("type", flat=True)) == ["credit", "depository", "investment"]
        assert all(len(mask) <= 4 for mask in Account.objects.values_list("mask", flat=True))
        assert BalanceSnapshot.objects.filter(account__connection=demo_connection).count() == 3
        run = SyncRun.objects.get(pk=result.sync_run_id)
        assert (run.kind, run.status, run.source, run.created_count, run.actor) == (
            "accounts",
            "succeeded",
            "cli",
            3,
            user,
        )
        assert run.finished_at is not None and run.duration >= timedelta(0)
        assert events(correlation_id=run.correlation_id) == ["sync.accounts.attempted", "sync.accounts.succeeded"]
        succeeded = AuditEvent.objects.get(event="sync.accounts.succeeded")
        assert succeeded.payload["created"] == 3 and succeeded.actor_label == "alice"
        assert succeeded.sync_run_id == run.pk and succeeded.connection_id == demo_connection.pk
        demo_connection.refresh_from_db()
        assert demo_connection.accounts_synced_at is not None

    def test_resync_changes_nothing(self, demo_connection, user):
        accounts(demo_connection, user)
        before = data_snapshot()

        result = accounts(demo_connection, user, force=True)

        assert (result.created, result.updated, result.unchanged, result.removed) == (0, 0, 3, 0)
        after = data_snapshot()
        assert after["Account"] == before["Account"]
        assert after["BalanceSnapshot"] == before["BalanceSnapshot"]

    def test_closed_account_goes_inactive_and_comes_back(self, demo_connection, user):
        accounts(demo_connection, user)
        set_config(demo_connection, accounts=2)

        closed = accounts(demo_connection, user, force=True)

        assert (closed.removed, closed.unchanged) == (1, 2)
        assert Account.objects.get(provider_account_id="demo-acct-0003").is_active is False
        set_config(demo_connection, accounts=3)
        reopened = accounts(demo_connection, user, force=True)
        assert (reopened.updated, reopened.unchanged, reopened.removed) == (1, 2, 0)
        assert Account.objects.filter(is_active=True).count() == 3
        assert Account.objects.count() == 3

    def test_new_day_updates_balances_and_adds_a_snapshot(self, demo_connection, user):
        accounts(demo_connection, user)
        set_config(demo_connection, as_of="2026-06-20")

        result = accounts(demo_connection, user, force=True)

        assert result.updated == 3
        assert BalanceSnapshot.objects.count() == 6


class TestLookupAndStatus:
    def test_other_users_connection_is_not_found_and_recorded(self, demo_connection, other_user):
        with pytest.raises(errors.NotFound) as caught:
            accounts(demo_connection, other_user)

        assert caught.value.code == "not_found"
        run = SyncRun.objects.get(pk=caught.value.sync_run_id)
        assert (run.status, run.reason_code, run.connection, run.actor) == ("failed", "not_found", None, other_user)
        assert events(actor=other_user) == ["sync.accounts.attempted", "sync.accounts.failed"]
        # Nothing about alice's connection is revealed in bob's records.
        assert not AuditEvent.objects.filter(actor=other_user, connection_id=demo_connection.pk).exists()
        assert not Account.objects.exists()

    def test_unknown_ids_are_not_found(self, user):
        with pytest.raises(errors.NotFound):
            accounts(Connection(pk=uuid.uuid4()), user)
        with pytest.raises(errors.NotFound):
            holdings(Account(pk=uuid.uuid4()), user)

    def test_account_of_another_connection_is_not_found(self, demo_connection, user):
        other = ConnectionFactory(owner=user, name="Second bank")
        accounts(other, user)
        foreign = Account.objects.filter(connection=other).first()
        with pytest.raises(errors.NotFound):
            transactions(demo_connection, user, account_id=foreign.pk)

    def test_staff_with_permission_syncs_anyones_connection(self, demo_connection, staff_syncer):
        result = accounts(demo_connection, staff_syncer)
        assert result.status == "succeeded"
        assert SyncRun.objects.get(pk=result.sync_run_id).actor == staff_syncer

    def test_staff_without_permission_is_not_found(self, demo_connection, db):
        from tests.factories import UserFactory

        staff = UserFactory(username="clerk", is_staff=True)
        with pytest.raises(errors.NotFound):
            accounts(demo_connection, staff)

    def test_disconnected_connection_is_inactive(self, demo_connection, user):
        Connection.objects.filter(pk=demo_connection.pk).update(status="disconnected")
        with pytest.raises(errors.ConnectionInactive) as caught:
            accounts(demo_connection, user)
        run = SyncRun.objects.get(pk=caught.value.sync_run_id)
        assert (run.status, run.reason_code, run.connection_id) == ("failed", "connection_inactive", demo_connection.pk)
        assert events(correlation_id=run.correlation_id) == ["sync.accounts.attempted", "sync.accounts.failed"]

    def test_needs_reauth_connection_fails_with_reauth_required(self, demo_connection, user):
        Connection.objects.filter(pk=demo_connection.pk).update(status="needs_reauth")
        with pytest.raises(errors.ReauthRequired):
            transactions(demo_connection, user)
        assert SyncRun.objects.get().reason_code == "reauth_required"


class TestGate:
    def test_recent_sync_is_skipped_not_failed(self, demo_connection, user):
        accounts(demo_connection, user)

        result = accounts(demo_connection, user)

        assert (result.status, result.reason, result.created) == ("skipped", "recently_synced", 0)
        assert "use force" in result.message
        run = SyncRun.objects.get(pk=result.sync_run_id)
        assert (run.status, run.reason_code) == ("skipped", "recently_synced")
        assert events(correlation_id=run.correlation_id) == ["sync.accounts.attempted", "sync.accounts.skipped"]

    def test_force_bypasses_the_gate(self, demo_connection, user):
        accounts(demo_connection, user)
        assert accounts(demo_connection, user, force=True).status == "succeeded"

    def test_gate_is_per_kind(self, demo_connection, user):
        accounts(demo_connection, user)
        assert transactions(demo_connection, user).status == "succeeded"
        brokerage = Account.objects.get(type="investment")
        assert holdings(brokerage, user).status == "succeeded"
        assert holdings(brokerage, user).status == "skipped"
        assert transactions(demo_connection, user).status == "skipped"

    def test_gate_expires_after_the_interval(self, demo_connection, user, settings):
        accounts(demo_connection, user)
        Connection.objects.filter(pk=demo_connection.pk).update(
            accounts_synced_at=timezone.now() - timedelta(seconds=301)
        )
        assert accounts(demo_connection, user).status == "succeeded"
        settings.FINSYNC_MIN_SYNC_INTERVAL = 0
        assert accounts(demo_connection, user).status == "succeeded"

    def test_failed_sync_does_not_arm_the_gate(self, user, flaky_provider):
        connection = ConnectionFactory(owner=user, provider="flaky", config={"as_of": "2026-06-15", "fail": "accounts"})
        with pytest.raises(errors.ProviderUnavailable):
            accounts(connection, user)
        set_config(connection, fail=None)
        assert accounts(connection, user).status == "succeeded"


class TestClaim:
    def test_second_sync_while_one_runs_fails_fast(self, demo_connection, user):
        other = SyncRunFactory(
            kind="transactions",
            connection=demo_connection,
            source="api",
            lease_expires_at=timezone.now() + timedelta(minutes=10),
        )
        with pytest.raises(errors.SyncInProgress) as caught:
            accounts(demo_connection, user)
        failed = SyncRun.objects.get(pk=caught.value.sync_run_id)
        assert (failed.status, failed.reason_code) == ("failed", "sync_in_progress")
        other.refresh_from_db()
        assert other.status == "running"
        assert not Account.objects.exists()

    def test_expired_claim_is_taken_over(self, demo_connection, user):
        stale = SyncRunFactory(connection=demo_connection, lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert accounts(demo_connection, user).status == "succeeded"
        stale.refresh_from_db()
        assert (stale.status, stale.reason_code) == ("failed", "lease_expired")

    def test_claims_are_per_connection(self, demo_connection, user):
        other = ConnectionFactory(owner=user, name="Second bank")
        SyncRunFactory(connection=other, lease_expires_at=timezone.now() + timedelta(minutes=10))
        assert accounts(demo_connection, user).status == "succeeded"

    def test_database_refuses_two_running_runs(self, demo_connection):
        from django.db import IntegrityError, transaction

        SyncRunFactory(kind="accounts", connection=demo_connection)
        with pytest.raises(IntegrityError), transaction.atomic():
            SyncRunFactory(kind="holdings", connection=demo_connection)


class TestFailures:
    @pytest.mark.parametrize(
        ("fail_with", "error", "code"),
        [
            ("unavailable", errors.ProviderUnavailable, "provider_unavailable"),
            ("rate_limited", errors.ProviderRateLimited, "provider_rate_limited"),
            ("bad_response", errors.ProviderBadResponse, "provider_bad_response"),
        ],
    )
    def test_provider_failure_leaves_data_untouched(self, user, flaky_provider, fail_with, error, code):
        connection = ConnectionFactory(owner=user, provider="flaky", config={"as_of": "2026-06-15"})
        accounts(connection, user)
        transactions(connection, user)
        before = data_snapshot()
        set_config(connection, fail="transactions", fail_with=fail_with, as_of="2026-06-20")

        with pytest.raises(error) as caught:
            transactions(connection, user, force=True)

        assert caught.value.code == code
        assert data_snapshot() == before
        run = SyncRun.objects.get(pk=caught.value.sync_run_id)
        assert (run.status, run.reason_code) == ("failed", code)
        failed = AuditEvent.objects.get(sync_run=run, event="sync.transactions.failed")
        assert failed.payload["reason"] == code
        if code == "provider_rate_limited":
            assert caught.value.retry_after == 120 and failed.payload["retry_after"] == 120
        connection.refresh_from_db()
        assert connection.last_error_code == code
        # The claim was released: the next sync can run.
        set_config(connection, fail=None)
        assert transactions(connection, user, force=True).status == "succeeded"
        connection.refresh_from_db()
        assert connection.last_error_code == ""

    def test_failure_mid_apply_rolls_back_earlier_accounts(self, user, flaky_provider):
        connection = ConnectionFactory(owner=user, provider="flaky", config={"as_of": "2026-06-15", "bad_row": True})
        accounts(connection, user)
        before = data_snapshot()

        with pytest.raises(errors.ProviderBadResponse) as caught:
            transactions(connection, user)

        assert "currency" in caught.value.message
        assert data_snapshot() == before
        assert not Transaction.objects.exists()
        assert SyncRun.objects.get(pk=caught.value.sync_run_id).status == "failed"

    def test_auth_failure_marks_connection_needs_reauth(self, user, flaky_provider):
        connection = ConnectionFactory(owner=user, provider="flaky", config={"fail": "accounts", "fail_with": "auth"})
        with pytest.raises(errors.ReauthRequired):
            accounts(connection, user)
        connection.refresh_from_db()
        assert connection.status == "needs_reauth"
        change = AuditEvent.objects.get(event="connection.status_changed")
        assert change.payload["from"] == "active" and change.payload["to"] == "needs_reauth"
        with pytest.raises(errors.ReauthRequired):
            accounts(connection, user, force=True)

    def test_undecryptable_credentials_fail_clearly(self, demo_connection, user, settings):
        from cryptography.fernet import Fernet

        settings.FINSYNC_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(errors.CredentialsInvalid) as caught:
            accounts(demo_connection, user)
        assert SyncRun.objects.get(pk=caught.value.sync_run_id).reason_code == "credentials_invalid"
        settings.FINSYNC_ENCRYPTION_KEYS = []
        with pytest.raises(errors.CredentialsInvalid):
            accounts(demo_connection, user, force=True)


class TestHoldings:
    def test_holdings_snapshot_and_deactivation(self, demo_connection, user):
        accounts(demo_connection, user)
        brokerage = Account.objects.get(type="investment")

        first = holdings(brokerage, user)

        assert (first.status, first.created) == ("succeeded", 5)
        assert Holding.objects.filter(account=brokerage, is_active=True).count() == 5
        assert holdings(brokerage, user, force=True).unchanged == 5
        Holding.objects.filter(symbol="AAPL").update(provider_holding_id="sold-position")
        third = holdings(brokerage, user, force=True)
        assert (third.created, third.removed, third.unchanged) == (1, 1, 4)
        assert not Holding.objects.get(provider_holding_id="sold-position").is_active

    def test_new_prices_update_holdings(self, demo_connection, user):
        accounts(demo_connection, user)
        brokerage = Account.objects.get(type="investment")
        holdings(brokerage, user)
        set_config(demo_connection, as_of="2026-06-16")
        result = holdings(brokerage, user, force=True)
        assert result.updated >= 4  # every priced security moved; cash did not change price
        assert Holding.objects.get(symbol="VTI").quantity.as_tuple().exponent == -8

    def test_account_without_holdings_succeeds_empty(self, demo_connection, user):
        accounts(demo_connection, user)
        checking = Account.objects.get(subtype="checking")
        result = holdings(checking, user)
        assert (result.status, result.created) == ("succeeded", 0)


def test_window_defaults_and_validation(demo_connection, user, settings):
    result = transactions(demo_connection, user, start_date=None, end_date=None)
    run = SyncRun.objects.get(pk=result.sync_run_id)
    today = timezone.localdate()
    assert (run.window_start, run.window_end) == (today - timedelta(days=29), today)

    with pytest.raises(errors.ValidationError) as caught:
        transactions(demo_connection, user, start_date=date(2026, 6, 2), end_date=date(2026, 6, 1), force=True)
    assert "start_date" in caught.value.fields
    assert SyncRun.objects.get(pk=caught.value.sync_run_id).reason_code == "validation_error"
    with pytest.raises(errors.ValidationError):
        transactions(demo_connection, user, start_date=date(2024, 1, 1), end_date=date(2026, 6, 1), force=True)
    settings.FINSYNC_MAX_SYNC_DAYS = 10
    with pytest.raises(errors.ValidationError):
        transactions(demo_connection, user, start_date=date(2026, 6, 1), end_date=date(2026, 6, 11), force=True)
    assert (
        transactions(demo_connection, user, start_date=date(2026, 6, 1), end_date=date(2026, 6, 10), force=True).status
        == "succeeded"
    )


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(1, 1, 1), date(2026, 6, 1), "start_date"),
        (None, date(1, 1, 1), "end_date"),
        (date(1969, 12, 31), date(1970, 1, 5), "start_date"),
        (date(2026, 6, 1), date(9999, 12, 31), "end_date"),
    ],
)
def test_window_dates_out_of_range_are_validation_errors(demo_connection, user, start, end, field):
    with pytest.raises(errors.ValidationError) as caught:
        transactions(demo_connection, user, start_date=start, end_date=end)
    assert field in caught.value.fields
