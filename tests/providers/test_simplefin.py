"""SimpleFIN adapter driven through the real handlers, connect service and CLI, over loopback."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
from django.core.management import CommandError, call_command

from providers.simplefin import SimpleFINProvider
from sync.apply.spool import spool_transactions
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.crypto import decrypt_credentials
from sync.errors import ProviderBadResponse, ProviderRateLimited, ProviderUnavailable, ReauthRequired, ValidationError
from sync.models import Account, AuditEvent, Connection, Holding, SyncRun, Transaction
from sync.services.connection_sync import sync_connection
from sync.services.connections import create_connection
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake
from tests.providers.conftest import WINDOW
from tests.providers.helpers import assert_no_secrets, data_snapshot, last_run


def _sync_all(connection, user, **window):
    return sync_connection(connection_id=connection.pk, user_id=user.pk, force=True, source="cli", **(window or WINDOW))


def _sync_transactions(connection, user, **kwargs):
    options = {**WINDOW, **kwargs}
    return sync_transactions(
        SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True, **options), source="api"
    )


# --- connect -----------------------------------------------------------------------


def test_setup_token_is_claimed_once(user, simplefin_fake, simplefin_server, caplog):
    token = simplefin_fake.setup_token(simplefin_server.url, "one-time")
    connection = create_connection(
        owner=user, provider="simplefin", options={"setup_token": token}, actor=user, source="cli"
    )
    credentials = decrypt_credentials(connection.credentials_encrypted)
    assert credentials == {"access_url": simplefin_fake.access_url(simplefin_server.url)}
    assert connection.config == {"server": simplefin_server.url}
    claims = [r for r in simplefin_fake.requests if r.path.startswith("/claim/")]
    assert [(r.method, r.body) for r in claims] == [("POST", b"")]

    with pytest.raises(ValidationError) as excinfo:
        create_connection(owner=user, provider="simplefin", options={"setup_token": token}, actor=user, source="cli")
    assert "already claimed" in excinfo.value.message
    assert token not in excinfo.value.message
    assert Connection.objects.count() == 1
    assert_no_secrets([simplefin_fake.password, token], caplog=caplog, extra_texts=[excinfo.value.message])


def test_connect_rejects_bad_input(user, simplefin_fake, simplefin_server, settings):
    def connect(**options):
        with pytest.raises(ValidationError) as excinfo:
            create_connection(owner=user, provider="simplefin", options=options, actor=user, source="cli")
        return excinfo.value.message

    assert "exactly one" in connect()
    assert "not valid" in connect(setup_token="%%% not base64 %%%")
    assert "no credentials" in connect(access_url=simplefin_server.url)
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = False
    message = connect(access_url=simplefin_fake.access_url(simplefin_server.url))
    assert "https" in message
    assert simplefin_fake.password not in message
    token = simplefin_fake.setup_token(simplefin_server.url, "plain-http")
    assert "https" in connect(setup_token=token)
    assert simplefin_fake.requests == []  # refused before any request
    assert Connection.objects.count() == 0


def test_cli_connect_with_setup_token_and_sync_all(user, simplefin_fake, simplefin_server, capsys):
    token = simplefin_fake.setup_token(simplefin_server.url, "cli-token")
    call_command("connect", "simplefin", "--user", "alice", "--setup-token", token)
    connection_id = capsys.readouterr().out.strip()
    connection = Connection.objects.get(pk=connection_id)
    assert connection.provider == "simplefin"

    call_command("sync", "all", "--connection", connection_id, "--start-date", "2026-05-01", "--end-date", "2026-06-15")
    out = capsys.readouterr().out
    assert "3 syncs: 3 ok, 0 skipped, 0 failed" in out  # accounts, transactions, holdings of the one brokerage
    assert Transaction.objects.count() == 7
    assert Holding.objects.filter(account__provider_account_id="inv-003").count() == 2

    with pytest.raises(CommandError) as excinfo:
        call_command("connect", "simplefin", "--user", "alice", "--setup-token", token)
    assert "already claimed" in str(excinfo.value)
    assert token not in str(excinfo.value)


# --- syncing -----------------------------------------------------------------------


def test_first_sync_and_unchanged_resync(simplefin_connection, user, simplefin_fake):
    outcomes = _sync_all(simplefin_connection, user)
    assert [(o.command, o.failed) for o in outcomes] == [
        ("accounts", False),
        ("transactions", False),
        ("holdings", False),
    ]
    accounts = {a.provider_account_id: a for a in Account.objects.all()}
    assert accounts["chk-001"].balance == Decimal("1520.35")
    assert accounts["chk-001"].available_balance == Decimal("1490.35")
    assert accounts["cc-002"].available_balance == Decimal("-230.10")  # omitted = same as balance
    assert accounts["inv-003"].type == "investment"
    assert accounts["chk-001"].type == "other"
    assert outcomes[1].result.created == 7

    payroll = Transaction.objects.get(provider_transaction_id="t-100")
    assert payroll.amount == Decimal("3200.00")
    assert payroll.posted_date == date(2026, 5, 2)
    pending = Transaction.objects.get(provider_transaction_id="p-103")
    assert pending.status == "pending"
    assert pending.posted_date == date(2026, 6, 13)  # transacted_at, as `posted` is 0
    assert Transaction.objects.get(provider_transaction_id="t-102").payee == "City"

    vti = Holding.objects.get(provider_holding_id="hold-vti")
    assert (vti.symbol, vti.quantity, vti.market_value, vti.price) == ("VTI", 25, Decimal(6000), Decimal(240))
    aapl = Holding.objects.get(provider_holding_id="hold-aapl")  # numbers sent as JSON numbers
    assert aapl.market_value == Decimal("4450.5") and aapl.cost_basis == Decimal(3800)

    before = data_snapshot()
    again = _sync_all(simplefin_connection, user)
    assert [o.result.created for o in again] == [0, 0, 0]
    assert [o.result.updated for o in again] == [0, 0, 0]
    assert again[1].result.unchanged == 7
    after = data_snapshot()
    assert before["transactions"] == after["transactions"]
    assert before["holdings"] == after["holdings"]
    requests = simplefin_fake.accounts_requests()
    assert requests[0].params("balances-only") == ["1"]
    assert requests[1].params("pending") == ["1"]
    assert requests[1].headers["Authorization"].startswith("Basic ")


def test_modified_and_removed_rows(simplefin_connection, user, simplefin_fake):
    _sync_all(simplefin_connection, user)
    fake_account = simplefin_fake.accounts["chk-001"]
    fake_account.transactions["t-101"].amount = "-55.20"
    fake_account.transactions["t-101"].description = "CORNER GROCERY #2"
    simplefin_fake.remove_transaction("chk-001", "t-102")

    result = _sync_transactions(simplefin_connection, user)
    assert (result.created, result.updated, result.removed, result.unchanged) == (0, 1, 1, 5)
    grocery = Transaction.objects.get(provider_transaction_id="t-101")
    assert grocery.amount == Decimal("-55.20") and grocery.description == "CORNER GROCERY #2"
    utilities = Transaction.objects.get(provider_transaction_id="t-102")
    assert utilities.is_removed and utilities.removed_at is not None  # soft-removed, not deleted


def test_pending_to_posted_moves_user_edits(simplefin_connection, user, simplefin_fake):
    _sync_all(simplefin_connection, user)
    pending = Transaction.objects.get(provider_transaction_id="p-103")
    pending.category = "coffee"
    pending.notes = "with Bob"
    pending.save(update_fields=["category", "notes"])

    # The bank posts it under a new id, without a link; another same-amount row far away must not match.
    simplefin_fake.remove_transaction("chk-001", "p-103")
    simplefin_fake.add_transaction(
        "chk-001",
        "t-104",
        posted=date(2026, 6, 15),
        transacted_at=date(2026, 6, 13),
        amount="-18.75",
        description="CAFE",
    )
    simplefin_fake.add_transaction("chk-001", "t-105", posted=date(2026, 5, 3), amount="-18.75", description="CAFE")
    result = _sync_transactions(simplefin_connection, user)

    posted = Transaction.objects.get(provider_transaction_id="t-104")
    old = Transaction.objects.get(provider_transaction_id="p-103")
    assert posted.replaces_id == old.pk
    assert (posted.category, posted.notes, posted.status) == ("coffee", "with Bob", "posted")
    assert old.is_removed
    assert Transaction.objects.get(provider_transaction_id="t-105").replaces_id is None
    assert result.created == 2 and result.removed == 1


def test_window_is_split_into_60_day_chunks(simplefin_connection, user, simplefin_fake):
    simplefin_fake.add_transaction("chk-001", "t-old", posted=date(2026, 1, 10), amount="-5.00", description="OLD")
    result = _sync_transactions(simplefin_connection, user, start_date=date(2026, 1, 1), end_date=date(2026, 6, 15))
    assert result.created == 8

    chunks = [
        (int(r.params("start-date")[0]), int(r.params("end-date")[0])) for r in simplefin_fake.accounts_requests()
    ]
    day = 86400
    starts = [datetime.fromtimestamp(start, UTC).date() for start, _ in chunks]
    # Cut every 60 days from 1970-01-01 (2026-01-07 is day 20,460 = 341 x 60), not from the window's start.
    assert starts == [date(2026, 1, 1), date(2026, 1, 7), date(2026, 3, 8), date(2026, 5, 7)]
    assert all(0 < end - start <= 60 * day for start, end in chunks)
    # Consecutive, no gap, no overlap; the last one ends (exclusively) at the day after end_date.
    assert all(chunks[i][1] == chunks[i + 1][0] for i in range(len(chunks) - 1))
    assert datetime.fromtimestamp(chunks[-1][1], UTC).date() == date(2026, 6, 16)


def test_one_account_window_asks_for_that_account_only(simplefin_connection, user, simplefin_fake):
    _sync_all(simplefin_connection, user)
    account = Account.objects.get(provider_account_id="cc-002")
    simplefin_fake.remove_transaction("cc-002", "t-201")
    result = _sync_transactions(simplefin_connection, user, account_id=account.pk)
    assert (result.removed, result.unchanged) == (1, 1)
    assert simplefin_fake.accounts_requests()[-1].params("account") == ["cc-002"]
    assert not Transaction.objects.get(provider_transaction_id="t-100").is_removed


def test_partial_errors_are_warnings_on_the_run(simplefin_connection, user, simplefin_fake, caplog):
    simplefin_fake.errors = [
        "Connection to <b>My Bank</b> may need attention",
        f"see https://{simplefin_fake.username}:{simplefin_fake.password}@bridge.example/x",
    ]
    simplefin_fake.errlist = [{"code": "con.auth", "message": "Authentication required", "conn_id": "CON-1"}]
    result = _sync_transactions(simplefin_connection, user)
    assert result.status == "succeeded" and result.created == 7
    run = SyncRun.objects.get(pk=result.sync_run_id)
    assert run.reason_code == "partial_errors"
    assert run.warnings[0] == "Connection to My Bank may need attention"
    assert "Authentication required (con.auth)" in run.warnings
    assert "***@bridge.example" in run.warnings[1]
    assert "may need attention" in run.message
    audited = AuditEvent.objects.get(event="sync.transactions.succeeded", sync_run=run)
    assert audited.payload["warnings"] == run.warnings
    assert_no_secrets([simplefin_fake.password], caplog=caplog)


def test_errlist_account_keeps_its_rows(simplefin_connection, user, simplefin_fake):
    _sync_all(simplefin_connection, user)
    simplefin_fake.accounts["cc-002"].transactions.clear()
    simplefin_fake.errlist = [{"code": "act.stale", "message": "Data is stale", "account_id": "cc-002"}]
    result = _sync_transactions(simplefin_connection, user)
    assert result.removed == 0
    assert Transaction.objects.filter(account__provider_account_id="cc-002", is_removed=False).count() == 2


def test_errors_without_accounts_fail(simplefin_connection, user, simplefin_fake):
    simplefin_fake.accounts.clear()
    simplefin_fake.errors = ["You must reauthenticate."]
    with pytest.raises(ProviderUnavailable) as excinfo:
        sync_accounts(SyncAccounts(connection_id=simplefin_connection.pk, user_id=user.pk), source="cli")
    assert "You must reauthenticate." in excinfo.value.message


# --- failures: database untouched, failed run, audit ---------------------------------


def _assert_failed_cleanly(before, code, *, kind="transactions"):
    assert data_snapshot() == before
    run = last_run(kind)
    assert run.status == "failed" and run.reason_code == code
    failed = AuditEvent.objects.filter(event=f"sync.{kind}.failed", sync_run=run).get()
    assert failed.payload["reason"] == code
    return run


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 403}, ReauthRequired),
        ({"status": 401}, ReauthRequired),
        ({"status": 402}, ProviderUnavailable),
        ({"status": 400, "body": b'{"errors": ["bad request"], "accounts": []}'}, ProviderUnavailable),
        ({"status": 500, "times": 3}, ProviderUnavailable),
        ({"body": b'{"errors": [], "accounts": [{"id": "chk-001"'}, ProviderBadResponse),
        ({"truncate_to": 40, "times": 3}, ProviderUnavailable),
        ({"body": b"<html>maintenance</html>"}, ProviderBadResponse),
    ],
    ids=["403", "401", "402", "400", "500x3", "truncated-json", "cut-connection", "html"],
)
def test_http_failures_leave_data_untouched(simplefin_connection, user, simplefin_fake, caplog, fault, error):
    caplog.set_level(logging.DEBUG)
    _sync_all(simplefin_connection, user)
    before = data_snapshot()
    simplefin_fake.fail_next(path="/accounts", **fault)
    with pytest.raises(error) as excinfo:
        _sync_transactions(simplefin_connection, user)
    run = _assert_failed_cleanly(before, error.code)
    assert run.message == excinfo.value.message
    connection = Connection.objects.get(pk=simplefin_connection.pk)
    if error is ReauthRequired:
        assert connection.status == "needs_reauth"
        assert AuditEvent.objects.filter(event="connection.status_changed").exists()
    else:
        assert connection.status == "active"
    assert connection.last_error_code == error.code
    assert_no_secrets([simplefin_fake.password], caplog=caplog, extra_texts=[str(excinfo.value)])


def test_500_then_success_is_retried(simplefin_connection, user, simplefin_fake):
    simplefin_fake.fail_next(path="/accounts", status=503, times=2)
    result = _sync_transactions(simplefin_connection, user)
    assert result.status == "succeeded" and result.created == 7
    assert len(simplefin_fake.accounts_requests()) == 3


def test_timeout(simplefin_connection, user, simplefin_fake, settings):
    settings.FINSYNC_HTTP_READ_TIMEOUT = 0.2
    settings.FINSYNC_HTTP_MAX_RETRIES = 1
    _sync_all(simplefin_connection, user)
    before = data_snapshot()
    simplefin_fake.fail_next(path="/accounts", sleep=0.6, times=2)
    with pytest.raises(ProviderUnavailable) as excinfo:
        _sync_transactions(simplefin_connection, user)
    assert "timed out" in excinfo.value.message
    _assert_failed_cleanly(before, "provider_unavailable")


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_rate_limited_with_retry_after(simplefin_connection, user, simplefin_fake, form):
    _sync_all(simplefin_connection, user)
    before = data_snapshot()
    in_90s = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    header = "120" if form == "seconds" else in_90s
    simplefin_fake.fail_next(path="/accounts", status=429, headers={"Retry-After": header})
    with pytest.raises(ProviderRateLimited) as excinfo:
        _sync_transactions(simplefin_connection, user)
    expected = 120 if form == "seconds" else 90
    assert expected - 3 <= excinfo.value.retry_after <= expected
    run = _assert_failed_cleanly(before, "provider_rate_limited")
    assert AuditEvent.objects.get(sync_run=run, event="sync.transactions.failed").payload["retry_after"] > 0
    assert len(simplefin_fake.accounts_requests()) == 4  # 3 for sync all, then one: 429 is not retried


def test_broken_payload_names_the_field(simplefin_connection, user, simplefin_fake):
    _sync_all(simplefin_connection, user)
    before = data_snapshot()
    simplefin_fake.accounts["cc-002"].balance = "lots"
    with pytest.raises(ProviderBadResponse) as excinfo:
        _sync_transactions(simplefin_connection, user)
    assert excinfo.value.message == "accounts[1].balance: not a number"
    _assert_failed_cleanly(before, "provider_bad_response")

    simplefin_fake.accounts["cc-002"].balance = "1.00"
    simplefin_fake.accounts["cc-002"].transactions["t-200"].amount = "12,34.5.6"
    with pytest.raises(ProviderBadResponse) as excinfo:
        _sync_transactions(simplefin_connection, user)
    assert excinfo.value.message == "accounts[1].transactions[0].amount: not a number"
    simplefin_fake.accounts["cc-002"].transactions["t-200"].amount = "-1.00"
    simplefin_fake.accounts["cc-002"].transactions["t-200"].description = None
    simplefin_fake.fail_next(path="/accounts", body=b'{"errors": [], "accounts": [{"id": "x", "name": "X"}]}')
    with pytest.raises(ProviderBadResponse) as excinfo:
        _sync_transactions(simplefin_connection, user)
    assert excinfo.value.message == "accounts[0].balance: missing"
    assert data_snapshot() == before


def test_https_refused_when_http_not_allowed(simplefin_connection, user, simplefin_fake, settings):
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = False
    with pytest.raises(ValidationError) as excinfo:
        _sync_transactions(simplefin_connection, user)
    assert "https" in excinfo.value.message
    assert simplefin_fake.password not in excinfo.value.message
    assert simplefin_fake.requests == []
    assert last_run("transactions").reason_code == "validation_error"


def test_holdings_of_one_account(simplefin_connection, user, simplefin_fake):
    sync_accounts(SyncAccounts(connection_id=simplefin_connection.pk, user_id=user.pk), source="cli")
    brokerage = Account.objects.get(provider_account_id="inv-003")
    result = sync_holdings(SyncHoldings(account_id=brokerage.pk, user_id=user.pk), source="api")
    assert result.created == 2
    assert simplefin_fake.accounts_requests()[-1].params("account") == ["inv-003"]

    simplefin_fake.accounts["inv-003"].holdings = simplefin_fake.accounts["inv-003"].holdings[:1]
    result = sync_holdings(SyncHoldings(account_id=brokerage.pk, user_id=user.pk, force=True), source="api")
    assert (result.unchanged, result.removed) == (1, 1)
    assert not Holding.objects.get(provider_holding_id="hold-aapl").is_active


def test_adapter_maps_a_pending_row_without_any_date_to_today(simplefin_fake, simplefin_server):
    simplefin_fake.add_transaction("chk-001", "p-nodate", pending=True, amount="-1.00", description="HOLD")
    adapter = SimpleFINProvider(credentials={"access_url": simplefin_fake.access_url(simplefin_server.url)}, config={})
    try:
        today = datetime.now(UTC).date()
        pages = adapter.iter_transaction_pages(start=today - timedelta(days=1), end=today, account_ids=["chk-001"])
        spool = spool_transactions(pages)  # merged as the sync merges them
    finally:
        adapter.close()
    try:
        rows = {account: list(spool.rows(account)) for account in spool.account_ids()}
        assert {account: [row[0] for row in items] for account, items in rows.items()} == {"chk-001": ["p-nodate"]}
        assert rows["chk-001"][0][1][0] == today  # posted_date
        assert spool.accounts_covered == ["chk-001"]
    finally:
        spool.close()


def test_setup_token_for_another_fake_is_independent():
    # Two fakes in one process don't share claims (the benchmark runs several).
    first, second = SimpleFINFake(), SimpleFINFake()
    with LiveServer(first) as a, LiveServer(second) as b:
        token_a = first.setup_token(a.url, "x")
        assert base64.b64decode(token_a).decode() == f"{a.url}/claim/x"
        assert SimpleFINProvider.connect({"setup_token": token_a}).credentials["access_url"].endswith(a.url[7:])
        assert second.claims == {}
        del b
