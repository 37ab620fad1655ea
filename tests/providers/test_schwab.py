"""Schwab over OAuth2, through the real services, handlers, API and CLI, against the loopback fake."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sync import errors
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.crypto import decrypt_credentials
from sync.models import Account, Connection, Holding, SyncRun, Transaction
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions
from tests.fakes.schwab import NESTED_REFRESH_ERROR, token_error
from tests.providers.schwab_helpers import NUMBER, OTHER_NUMBER, trade_row
from tests.sync.helpers import data_snapshot

MAY = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}


def _accounts(connection, user):
    return sync_accounts(SyncAccounts(connection_id=connection.pk, user_id=user.pk, force=True), source="cli")


def _transactions(connection, user, **window):
    return sync_transactions(
        SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True, **(window or MAY)), source="cli"
    )


def _holdings(account, user):
    return sync_holdings(SyncHoldings(account_id=account.pk, user_id=user.pk, force=True), source="cli")


def _account(number=NUMBER) -> Account:
    return Account.objects.get(mask=number[-4:])


# --- mapping -------------------------------------------------------------------------


def test_accounts_holdings_and_transactions_mapping(schwab_connection, user, schwab_fake):
    assert _accounts(schwab_connection, user).created == 2
    account = _account()
    assert (account.type, account.subtype, account.mask, account.balance, account.available_balance) == (
        "investment",
        "brokerage",
        "5678",
        Decimal("24810.40"),
        Decimal("4120.55"),
    )
    assert len(account.provider_account_id) == 64 and NUMBER not in account.provider_account_id

    _holdings(account, user)
    holdings = {h.provider_holding_id: h for h in Holding.objects.filter(account=account)}
    assert set(holdings) == {"EQUITY:AAPL", "OPTION:CRCL  270115P00085000"}
    assert (holdings["EQUITY:AAPL"].quantity, holdings["EQUITY:AAPL"].cusip) == (Decimal(20), "037833100")
    assert holdings["OPTION:CRCL  270115P00085000"].quantity == Decimal(-1)

    result = _transactions(schwab_connection, user)
    assert result.created == 3
    trade = Transaction.objects.get(provider_transaction_id="95512265692")
    assert (trade.activity_type, trade.symbol, trade.quantity, trade.price, trade.fees, trade.amount) == (
        "buy",
        "SFM",
        Decimal(1),
        Decimal("164.85"),
        Decimal("0.66"),
        Decimal("-165.51"),
    )
    assert trade.posted_date == date(2026, 5, 4)  # New York's date of a 03:30 UTC trade
    dividend = Transaction.objects.get(provider_transaction_id="96000000230")
    assert (dividend.activity_type, dividend.symbol, dividend.amount) == ("dividend", "KO", Decimal("12.34"))
    assert Transaction.objects.get(provider_transaction_id="96000000114").activity_type == "deposit"
    # The hash goes in paths, never the plain number; dates as .000Z; every type asked for.
    for request in schwab_fake.transaction_requests():
        assert NUMBER not in request.path and OTHER_NUMBER not in request.path
        assert request.params("startDate")[0].endswith(".000Z")
        assert len(request.params("types")[0].split(",")) == 15


# --- tokens ----------------------------------------------------------------------------


def _set_credentials(connection, **changes):
    from sync.crypto import encrypt_credentials

    credentials = decrypt_credentials(Connection.objects.get(pk=connection.pk).credentials_encrypted)
    credentials.update(changes)
    Connection.objects.filter(pk=connection.pk).update(credentials_encrypted=encrypt_credentials(credentials))
    return credentials


def _stored(connection) -> dict:
    return decrypt_credentials(Connection.objects.get(pk=connection.pk).credentials_encrypted)


def test_refresh_when_fewer_than_five_minutes_remain_and_not_before(schwab_connection, user, schwab_fake):
    _accounts(schwab_connection, user)
    assert schwab_fake.refreshes == 0  # a fresh token: no refresh
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    before = _set_credentials(schwab_connection, access_expires_at=soon)
    _accounts(schwab_connection, user)
    assert schwab_fake.refreshes == 1
    after = _stored(schwab_connection)
    assert after["access_token"] != before["access_token"]
    assert datetime.fromisoformat(after["access_expires_at"]) > datetime.now(UTC) + timedelta(minutes=25)
    # The 7-day clock does not move with a refresh.
    assert Connection.objects.get(pk=schwab_connection.pk).config == schwab_connection.config
    _accounts(schwab_connection, user)
    assert schwab_fake.refreshes == 1


@pytest.mark.parametrize(
    "fault",
    [
        NESTED_REFRESH_ERROR,
        token_error(400, "invalid_grant", "refresh token invalid"),
        token_error(401, "invalid_client", "refresh token invalid"),
    ],
    ids=["nested-refresh_token_authentication_error", "invalid_grant", "invalid_client"],
)
def test_refresh_refused_marks_needs_reauth_and_is_not_retried(schwab_connection, user, schwab_fake, fault):
    _set_credentials(schwab_connection, access_expires_at=datetime.now(UTC).isoformat())
    schwab_fake.fail_next(fault)
    with pytest.raises(errors.ReauthRequired) as failure:
        _accounts(schwab_connection, user)
    assert "re-authorize" in failure.value.message
    assert len(schwab_fake.token_requests("refresh_token")) == 1
    connection = Connection.objects.get(pk=schwab_connection.pk)
    assert (connection.status, connection.last_error_code) == ("needs_reauth", "reauth_required")
    assert SyncRun.objects.filter(status="failed", reason_code="reauth_required").count() == 1
    # The next sync is refused before any request.
    count = len(schwab_fake.requests)
    with pytest.raises(errors.ReauthRequired):
        _accounts(schwab_connection, user)
    assert len(schwab_fake.requests) == count


def test_the_seven_day_limit_is_reauth_required(schwab_connection, user, schwab_fake):
    schwab_fake.age_logins(7.01)
    _set_credentials(schwab_connection, access_expires_at=datetime.now(UTC).isoformat())
    with pytest.raises(errors.ReauthRequired):
        _accounts(schwab_connection, user)
    assert Connection.objects.get(pk=schwab_connection.pk).status == "needs_reauth"


def test_a_rotated_refresh_token_is_kept_when_the_sync_then_fails(schwab_connection, user, schwab_fake):
    schwab_fake.rotate_refresh = True
    old = _set_credentials(schwab_connection, access_expires_at=datetime.now(UTC).isoformat())["refresh_token"]
    schwab_fake.fail_next(path="/trader/v1/accounts", status=400, body=b'{"message": "bad request"}')
    with pytest.raises(errors.ProviderUnavailable):
        _accounts(schwab_connection, user)
    stored = _stored(schwab_connection)["refresh_token"]
    assert stored != old and old not in schwab_fake.refresh_tokens  # the old one is dead at Schwab
    assert Account.objects.count() == 0
    # The next sync refreshes with the kept token and succeeds.
    _set_credentials(schwab_connection, access_expires_at=datetime.now(UTC).isoformat())
    assert _accounts(schwab_connection, user).created == 2


def test_a_sync_in_progress_is_never_refreshed_twice(schwab_connection, user, schwab_fake):
    from django.utils import timezone

    from tests.factories import SyncRunFactory

    # Another sync holds the connection (its own refresh is under way): this one must not refresh.
    _set_credentials(schwab_connection, access_expires_at=datetime.now(UTC).isoformat())
    SyncRunFactory(
        kind="transactions", connection=schwab_connection, lease_expires_at=timezone.now() + timedelta(minutes=10)
    )
    count = len(schwab_fake.requests)
    with pytest.raises(errors.SyncInProgress):
        _accounts(schwab_connection, user)
    assert schwab_fake.refreshes == 0 and len(schwab_fake.requests) == count


def test_a_401_refreshes_once_and_retries_once(schwab_connection, user, schwab_fake):
    schwab_fake.expire_access_tokens()  # Schwab expired it early: our clock still says valid
    assert _accounts(schwab_connection, user).created == 2
    assert schwab_fake.refreshes == 1
    unauthorized = b'{"errors":[{"id":"1","status":401,"title":"Unauthorized","detail":"Client not authorized"}]}'
    schwab_fake.fail_next(path="/trader/v1/accounts/accountNumbers", status=401, body=unauthorized, times=2)
    with pytest.raises(errors.ReauthRequired) as failure:
        _accounts(schwab_connection, user)
    assert "Client not authorized" in failure.value.message and "re-authorize" in failure.value.message
    assert schwab_fake.refreshes == 2
    assert Connection.objects.get(pk=schwab_connection.pk).status == "needs_reauth"


def test_rate_limited_and_readable_errors(schwab_connection, user, schwab_fake):
    schwab_fake.fail_next(path="/trader/v1/accounts/accountNumbers", status=429, headers={"Retry-After": "17"})
    with pytest.raises(errors.ProviderRateLimited) as limited:
        _accounts(schwab_connection, user)
    assert limited.value.retry_after == 17
    token = _stored(schwab_connection)["access_token"]
    body = ('{"message": "Invalid account number", "errors": ["echo ' + token + '"]}').encode()
    schwab_fake.fail_next(path="/trader/v1/accounts", status=400, body=body)
    with pytest.raises(errors.ProviderUnavailable) as rejected:
        _accounts(schwab_connection, user)
    assert "Invalid account number" in rejected.value.message and token not in rejected.value.message
    schwab_fake.fail_next(path="/trader/v1/accounts", status=503, body=b"<html>Whitelabel Error Page</html>", times=5)
    with pytest.raises(errors.ProviderUnavailable):
        _accounts(schwab_connection, user)


# --- windows ---------------------------------------------------------------------------


def test_windows_over_364_days_are_split(schwab_connection, user, schwab_fake, settings):
    start, end = date(2024, 7, 1), date(2026, 6, 15)
    early = datetime(2024, 7, 2, 15, tzinfo=UTC)
    schwab_fake.add_transaction(NUMBER, 1001, early, "-10.00", **trade_row(1001, early, net="-10.00"))
    result = _transactions(schwab_connection, user, start_date=start, end_date=end)
    assert result.created == 4
    spans = [
        (datetime.fromisoformat(r.params("startDate")[0]), datetime.fromisoformat(r.params("endDate")[0]))
        for r in schwab_fake.transaction_requests()
        if r.path.endswith(schwab_fake.accounts[NUMBER]["hash"] + "/transactions")
    ]
    assert len(spans) == 2  # 717 days
    assert all(b - a < timedelta(days=364) for a, b in spans)
    assert all(spans[i][1] + timedelta(seconds=1) == spans[i + 1][0] for i in range(len(spans) - 1))


def test_a_window_of_3000_rows_is_bisected_without_duplicates(schwab_connection, user, schwab_fake):
    base = datetime(2026, 5, 10, 14, tzinfo=UTC)
    for i in range(3100):
        when = base + timedelta(seconds=i)
        schwab_fake.add_transaction(NUMBER, 2_000_000 + i, when, "1.00", kind="JOURNAL", description=f"j{i}")
    result = _transactions(schwab_connection, user)
    assert result.created == 3103
    assert Transaction.objects.filter(account=_account()).count() == 3103
    answers = len(schwab_fake.transaction_requests())
    assert answers > 3  # the capped window was asked again in halves
    # Unchanged re-sync: nothing written.
    rows = data_snapshot()["Transaction"]
    again = _transactions(schwab_connection, user)
    assert (again.created, again.updated, again.removed, again.unchanged) == (0, 0, 0, 3103)
    assert data_snapshot()["Transaction"] == rows


def test_faults_at_each_request_leave_the_database_unchanged(schwab_connection, user, schwab_fake):
    _accounts(schwab_connection, user)
    _transactions(schwab_connection, user)
    schwab_fake.add_transaction(NUMBER, 777, datetime(2026, 6, 1, 15, tzinfo=UTC), "-1.00", kind="JOURNAL")
    schwab_fake.requests.clear()
    _transactions(schwab_connection, user)
    paths = [r.path for r in schwab_fake.requests]
    Transaction.objects.filter(provider_transaction_id="777").delete()
    snapshot = data_snapshot()
    for index, path in enumerate(paths):
        after = paths[:index].count(path)
        schwab_fake.fail_next(path=path, status=400, body=b'{"message": "scripted"}', after=after)
        with pytest.raises(errors.ProviderUnavailable):
            _transactions(schwab_connection, user)
        assert data_snapshot() == snapshot, path
        schwab_fake.faults.clear()
    assert _transactions(schwab_connection, user).created == 1
