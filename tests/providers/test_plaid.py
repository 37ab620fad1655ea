"""Plaid adapter driven through the real handlers, connect service and CLI, over loopback."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from benchmarks import plaid_data
from providers import errors as provider_errors
from providers.http import parse_json
from providers.plaid import PlaidProvider
from providers.plaid_rows import Row, fast_transaction, read_sync_answer
from sync.apply.spool import spool_transactions
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.errors import (
    CredentialsInvalid,
    ProviderBadResponse,
    ProviderRateLimited,
    ProviderUnavailable,
    ReauthRequired,
    ValidationError,
)
from sync.models import Account, AuditEvent, Connection, Holding, SyncRun, Transaction
from sync.services.connection_sync import sync_connection
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions
from tests.fakes.plaid import MUTATION, RawJSON, investment_transaction, plaid_error, security, transaction
from tests.fakes.plaid import encode as encode_body
from tests.fakes.server import Fault, LiveServer
from tests.providers import plaid_schema
from tests.providers.conftest import PLAID_TOKEN
from tests.providers.helpers import assert_no_secrets, data_snapshot, last_run


def _sync_all(connection, user):
    return sync_connection(connection_id=connection.pk, user_id=user.pk, force=True, source="cli")


def _sync_transactions(connection, user):
    return sync_transactions(SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True), source="api")


def _secrets(fake):
    return [PLAID_TOKEN, fake.secret]


# --- connect -----------------------------------------------------------------------


def test_cli_connect_and_sync_all(user, plaid_fake, plaid_server, capsys):
    call_command("connect", "plaid", "--user", "alice", "--access-token", PLAID_TOKEN)
    connection = Connection.objects.get(pk=capsys.readouterr().out.strip())
    assert connection.config == {
        "item_id": "item-1",
        "institution_id": "ins_109508",
        "institution_name": "First Platypus Bank",
    }
    call_command("sync", "all", "--connection", str(connection.pk))
    out = capsys.readouterr().out
    assert "3 syncs: 3 ok, 0 skipped, 0 failed" in out
    assert Transaction.objects.count() == 5 and Holding.objects.count() == 3

    with pytest.raises(CommandError) as excinfo:
        call_command("connect", "plaid", "--user", "alice", "--access-token", "access-sandbox-unknown")
    assert "did not accept the access token" in str(excinfo.value)
    assert "access-sandbox-unknown" not in str(excinfo.value)
    headers = plaid_fake.requests[0].headers
    assert (headers["Plaid-Client-Id"], headers["Plaid-Version"]) == (plaid_fake.client_id, "2020-09-14")


# --- syncing -----------------------------------------------------------------------


def test_first_sync_and_unchanged_resync(plaid_connection, user, plaid_fake):
    outcomes = _sync_all(plaid_connection, user)
    assert [(o.command, o.failed) for o in outcomes] == [
        ("accounts", False),
        ("transactions", False),
        ("holdings", False),
    ]
    accounts = {a.provider_account_id: a for a in Account.objects.all()}
    assert (accounts["acc-chk"].balance, accounts["acc-chk"].available_balance) == (Decimal(110), Decimal(100))
    assert accounts["acc-cc"].balance == Decimal("-410.25")  # what is owed, as a negative balance
    assert (accounts["acc-inv"].type, accounts["acc-cc"].mask) == ("investment", "3333")

    payroll = Transaction.objects.get(provider_transaction_id="tx-1")
    assert (payroll.amount, payroll.posted_date, payroll.provider_category) == (
        Decimal(2500),
        date(2026, 5, 1),
        "INCOME",
    )
    coffee = Transaction.objects.get(provider_transaction_id="tx-2")
    assert (coffee.amount, coffee.payee) == (Decimal("-12.50"), "Blue Bottle")
    assert Transaction.objects.get(provider_transaction_id="pend-5").status == "pending"
    cursor = Connection.objects.get(pk=plaid_connection.pk).cursor
    assert cursor

    vti = Holding.objects.get(provider_holding_id="acc-inv:sec-vti")
    assert (vti.symbol, vti.quantity, vti.price, vti.asset_type) == ("VTI", Decimal("92.25"), Decimal("240.12"), "etf")
    assert Holding.objects.get(provider_holding_id="acc-inv:sec-cash").symbol == "CUR:USD"
    assert Holding.objects.get(provider_holding_id="acc-inv:sec-opt").cost_basis is None

    before = data_snapshot()
    again = _sync_all(plaid_connection, user)
    assert [(o.result.created, o.result.updated) for o in again] == [(0, 0), (0, 0), (0, 0)]
    assert plaid_fake.sync_requests()[-1]["cursor"] == cursor
    assert data_snapshot()["transactions"] == before["transactions"]


def test_modified_and_removed(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    item = plaid_fake.items[PLAID_TOKEN]
    item.modify(transaction("tx-2", "acc-chk", 13.75, date(2026, 5, 3), "Blue Bottle Coffee"))
    item.remove("tx-4", "acc-cc")
    result = _sync_transactions(plaid_connection, user)
    assert (result.created, result.updated, result.removed) == (0, 1, 1)
    assert Transaction.objects.get(provider_transaction_id="tx-2").amount == Decimal("-13.75")
    assert Transaction.objects.get(provider_transaction_id="tx-4").is_removed


@pytest.mark.parametrize("split_pages", [False, True])
def test_pending_to_posted_moves_user_edits(plaid_connection, user, plaid_fake, split_pages):
    _sync_all(plaid_connection, user)
    Transaction.objects.filter(provider_transaction_id="pend-5").update(category="gadgets", notes="birthday")
    item = plaid_fake.items[PLAID_TOKEN]
    item.remove("pend-5", "acc-chk")
    item.add(transaction("tx-6", "acc-chk", 25.07, date(2026, 6, 15), "Apple Store", pending_transaction_id="pend-5"))
    if split_pages:
        plaid_fake.page_size = 1  # the removal and the posted row arrive on different pages
    result = _sync_transactions(plaid_connection, user)
    posted = Transaction.objects.get(provider_transaction_id="tx-6")
    pending = Transaction.objects.get(provider_transaction_id="pend-5")
    assert posted.replaces_id == pending.pk
    assert (posted.category, posted.notes, posted.amount) == ("gadgets", "birthday", Decimal("-25.07"))
    assert pending.is_removed
    assert (result.created, result.removed) == (1, 1)


def test_cursor_restart_on_mutation_during_pagination(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    start_cursor = Connection.objects.get(pk=plaid_connection.pk).cursor
    item = plaid_fake.items[PLAID_TOKEN]
    for n in range(7, 12):
        item.add(transaction(f"tx-{n}", "acc-chk", n, date(2026, 6, 1), f"Shop {n}"))
    plaid_fake.page_size = 2
    item.pending_mutation = [("added", transaction("tx-late", "acc-cc", 1.5, date(2026, 6, 2), "Late"))]
    requests_before = len(plaid_fake.sync_requests())

    result = _sync_transactions(plaid_connection, user)
    assert result.created == 6
    cursors = [r.get("cursor") for r in plaid_fake.sync_requests()[requests_before:]]
    # page 1, page 2 answers MUTATION, then the whole loop again from the starting cursor.
    assert cursors[0] == start_cursor and cursors[2] == start_cursor
    assert len(cursors) == 2 + 3
    assert all(r["count"] == 500 for r in plaid_fake.sync_requests())
    assert Transaction.objects.filter(provider_transaction_id="tx-late").exists()
    mutation_errors = [b for path, status, b in plaid_fake.responses if b.get("error_code") == MUTATION]
    assert len(mutation_errors) == 1


def _provider_truth(item) -> dict[str, Decimal]:
    """What the Item's event log leaves: transaction id -> FinSync amount."""
    truth: dict[str, Decimal] = {}
    for kind, data in item.events:
        if kind == "removed":
            truth.pop(data["transaction_id"], None)
        else:
            truth[data["transaction_id"]] = -Decimal(str(data["amount"])).quantize(Decimal("0.01"))
    return truth


def _stored_truth() -> dict[str, Decimal]:
    return dict(Transaction.objects.filter(is_removed=False).values_list("provider_transaction_id", "amount"))


def _mutation_on_page_2_of_3(item, plaid_fake):
    """Three pages of two events; the request for page 2 answers MUTATION after changing page 1's rows."""
    item.add(transaction("tx-7", "acc-chk", 7, date(2026, 6, 1), "Shop 7"))
    item.add(transaction("tx-8", "acc-cc", 8, date(2026, 6, 2), "Shop 8"))
    item.modify(transaction("tx-2", "acc-chk", 13.75, date(2026, 5, 3), "Blue Bottle Coffee"))
    item.add(transaction("tx-9", "acc-chk", 9, date(2026, 6, 3), "Shop 9"))
    item.remove("tx-4", "acc-cc")
    plaid_fake.page_size = 2
    item.pending_mutation = [
        ("modified", transaction("tx-7", "acc-chk", 70, date(2026, 6, 1), "Shop 7 corrected")),
        ("removed", {"transaction_id": "tx-8", "account_id": "acc-cc"}),
        ("added", transaction("tx-late", "acc-cc", 1.5, date(2026, 6, 2), "Late")),
    ]


def test_mutation_on_page_2_of_3_discards_the_pages_handed_over(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    item = plaid_fake.items[PLAID_TOKEN]
    _mutation_on_page_2_of_3(item, plaid_fake)
    requests_before = len(plaid_fake.sync_requests())

    result = _sync_transactions(plaid_connection, user)
    # Pass 1 spooled tx-7 and tx-8 (page 1), then was abandoned; pass 2 brought
    # tx-7's correction and tx-8's removal on later pages (4 pages of 2 events).
    assert (result.created, result.updated, result.removed) == (3, 1, 1)  # tx-7, tx-9, tx-late; tx-2; tx-4
    assert _stored_truth() == _provider_truth(item)
    assert not Transaction.objects.filter(provider_transaction_id="tx-8").exists()
    assert Transaction.objects.filter(provider_transaction_id="tx-7").count() == 1
    assert len(plaid_fake.sync_requests()) - requests_before == 2 + 4
    last_cursor = [b for path, status, b in plaid_fake.responses if path == "/transactions/sync"][-1]["next_cursor"]
    assert Connection.objects.get(pk=plaid_connection.pk).cursor == last_cursor

    again = _sync_transactions(plaid_connection, user)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert _stored_truth() == _provider_truth(item)


def test_restart_page_is_handed_over_once(plaid_server, plaid_fake):
    """The stream itself: the first page after the abandoned pass carries `restart`, no other does."""
    item = plaid_fake.items[PLAID_TOKEN]
    _mutation_on_page_2_of_3(item, plaid_fake)
    plaid_fake.page_size = 3  # from the start of the log: 13 events once the mutation is in
    provider = PlaidProvider(credentials={"access_token": PLAID_TOKEN}, config={})
    try:
        pages = list(provider.iter_transaction_pages(start=None, end=None))
    finally:
        provider.close()
    assert [page.restart for page in pages] == [False, True, False, False, False, False]
    assert [len(page.transactions) + len(page.removed) for page in pages] == [3, 3, 3, 3, 3, 1]
    spool = spool_transactions(provider.iter_transaction_pages(start=None, end=None, cursor=None))
    spool.close()
    assert spool.next_cursor == pages[-1].next_cursor
    merged = {t.provider_transaction_id for page in pages[1:] for t in page.transactions} - {
        r.provider_transaction_id for page in pages[1:] for r in page.removed
    }
    assert merged == set(_provider_truth(item))


def test_mutation_after_page_1_that_never_settles_fails_cleanly(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    before = data_snapshot()
    cursor = Connection.objects.get(pk=plaid_connection.pk).cursor
    item = plaid_fake.items[PLAID_TOKEN]
    for n in range(7, 11):
        item.add(transaction(f"tx-{n}", "acc-chk", n, date(2026, 6, 1), f"Shop {n}"))
    plaid_fake.page_size = 2
    for _ in range(3):  # every pass hands over page 1, then page 2 answers MUTATION
        plaid_fake.fail_next(plaid_error("TRANSACTIONS_ERROR", MUTATION), path="/transactions/sync", after=1)
    with pytest.raises(ProviderUnavailable, match="kept changing"):
        _sync_transactions(plaid_connection, user)
    _assert_failed_cleanly(before, "provider_unavailable")
    assert Connection.objects.get(pk=plaid_connection.pk).cursor == cursor
    assert len(plaid_fake.sync_requests()) == 1 + 3 * 2


def test_removed_on_a_later_page_than_added(plaid_connection, user, plaid_fake):
    """Page order decides: added then removed leaves nothing; removed then added back keeps the row."""
    _sync_all(plaid_connection, user)
    item = plaid_fake.items[PLAID_TOKEN]
    item.add(transaction("tx-gone", "acc-chk", 4, date(2026, 6, 1), "Gone"))
    item.remove("tx-3", "acc-cc")
    item.remove("tx-gone", "acc-chk")
    item.add(transaction("tx-3", "acc-cc", 90, date(2026, 5, 10), "Hardware Depot again"))
    plaid_fake.page_size = 1
    _sync_transactions(plaid_connection, user)
    assert _stored_truth() == _provider_truth(item)
    assert not Transaction.objects.filter(provider_transaction_id="tx-gone").exists()
    assert Transaction.objects.get(provider_transaction_id="tx-3").amount == Decimal(-90)


def test_mutation_that_never_settles_fails_cleanly(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    before = data_snapshot()
    plaid_fake.items[PLAID_TOKEN].add(transaction("tx-9", "acc-chk", 1, date(2026, 6, 1), "X"))
    plaid_fake.fail_next(plaid_error("TRANSACTIONS_ERROR", MUTATION), path="/transactions/sync", times=3)
    with pytest.raises(ProviderUnavailable, match="kept changing"):
        _sync_transactions(plaid_connection, user)
    _assert_failed_cleanly(before, "provider_unavailable")


def test_many_pages(plaid_connection, user, plaid_fake):
    item = plaid_fake.items[PLAID_TOKEN]
    for n in range(1200):
        item.add(transaction(f"bulk-{n}", "acc-cc", "1.01", date(2026, 4, 1) + timedelta(days=n % 60), "Bulk"))
    result = _sync_transactions(plaid_connection, user)
    assert result.created == 1205
    assert len(plaid_fake.sync_requests()) == 3  # 500 + 500 + 205


def test_no_investment_accounts_is_an_empty_snapshot(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    item = plaid_fake.items[PLAID_TOKEN]
    item.accounts = [a for a in item.accounts if a["type"] != "investment"]
    brokerage = Account.objects.get(provider_account_id="acc-inv")
    result = sync_holdings(SyncHoldings(account_id=brokerage.pk, user_id=user.pk, force=True), source="api")
    assert result.status == "succeeded" and result.created == 0
    assert plaid_fake.responses[-1][2]["error_code"] == "NO_INVESTMENT_ACCOUNTS"


# --- failures ------------------------------------------------------------------------


def _assert_failed_cleanly(before, code, kind="transactions"):
    assert data_snapshot() == before
    run = last_run(kind)
    assert (run.status, run.reason_code) == ("failed", code)
    assert AuditEvent.objects.get(event=f"sync.{kind}.failed", sync_run=run).payload["reason"] == code
    return run


RETRY_DATE = "retry-date"


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (plaid_error("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"), ReauthRequired, "log in to the institution again"),
        (plaid_error("INVALID_INPUT", "INVALID_ACCESS_TOKEN"), ReauthRequired, "INVALID_ACCESS_TOKEN"),
        (plaid_error("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", status=429), ProviderRateLimited, "retry later"),
        (plaid_error("ITEM_ERROR", "PRODUCT_NOT_READY"), ProviderUnavailable, "not finished preparing"),
        (plaid_error("INSTITUTION_ERROR", "INSTITUTION_DOWN"), ProviderUnavailable, "INSTITUTION_DOWN"),
        (plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", status=500), ProviderUnavailable, "unavailable"),
        (plaid_error("INVALID_INPUT", "INVALID_API_KEYS"), CredentialsInvalid, "client id or secret"),
        (plaid_error("INVALID_REQUEST", "UNKNOWN_FIELDS"), ProviderUnavailable, "UNKNOWN_FIELDS"),
    ],
    ids=lambda v: getattr(v, "__name__", None) if isinstance(v, type) else None,
)
def test_error_codes(plaid_connection, user, plaid_fake, caplog, fault, error, message):
    caplog.set_level(logging.DEBUG)
    _sync_all(plaid_connection, user)
    before = data_snapshot()
    plaid_fake.items[PLAID_TOKEN].add(transaction("tx-new", "acc-chk", 3, date(2026, 6, 14), "New"))
    fault.path, fault.times = "/transactions/sync", 3
    plaid_fake.fail_next(fault)
    with pytest.raises(error) as excinfo:
        _sync_transactions(plaid_connection, user)
    assert message in excinfo.value.message
    run = _assert_failed_cleanly(before, error.code)
    connection = Connection.objects.get(pk=plaid_connection.pk)
    assert connection.status == ("needs_reauth" if error is ReauthRequired else "active")
    assert run.message == excinfo.value.message
    assert_no_secrets(_secrets(plaid_fake), caplog=caplog, extra_texts=[str(excinfo.value)])


def test_item_login_required_from_the_item_state(plaid_connection, user, plaid_fake):
    _sync_all(plaid_connection, user)
    plaid_fake.items[PLAID_TOKEN].login_required = True
    outcomes = _sync_all(plaid_connection, user)
    assert [o.error.code for o in outcomes] == ["reauth_required"]  # the rest of the connection is skipped
    assert Connection.objects.get(pk=plaid_connection.pk).status == "needs_reauth"
    assert AuditEvent.objects.filter(event="connection.status_changed").count() == 1


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_rate_limit_retry_after(plaid_connection, user, plaid_fake, form):
    before = data_snapshot()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    fault = plaid_error("RATE_LIMIT_EXCEEDED", "ACCOUNTS_LIMIT", status=429)
    fault.headers["Retry-After"] = "40" if form == "seconds" else when
    plaid_fake.fail_next(fault, path="/accounts/get")
    with pytest.raises(ProviderRateLimited) as excinfo:
        sync_accounts(SyncAccounts(connection_id=plaid_connection.pk, user_id=user.pk), source="cli")
    assert 37 <= excinfo.value.retry_after <= 40
    run = _assert_failed_cleanly(before, "provider_rate_limited", kind="accounts")
    assert AuditEvent.objects.get(sync_run=run, event="sync.accounts.failed").payload["retry_after"] >= 37


def test_500_then_success(plaid_connection, user, plaid_fake):
    plaid_fake.fail_next(plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", status=500), path="/transactions/sync")
    assert _sync_transactions(plaid_connection, user).created == 5
    assert len(plaid_fake.sync_requests()) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"accounts": [], "added": [{"transaction_id": "x"}]', "not valid JSON"),
        (
            b'{"accounts": [], "modified": [], "removed": [], "next_cursor": "c", "has_more": false}',
            "page 1.added: missing",
        ),
        (
            b'{"accounts": [], "added": [{"transaction_id": "x", "account_id": "acc-chk", "amount": "ten",'
            b' "date": "2026-06-01", "pending": false}], "modified": [], "removed": [], "next_cursor": "c",'
            b' "has_more": false}',
            "page 1.added[0].amount: not a number",
        ),
        (
            b'{"accounts": [], "added": [{"transaction_id": "x", "account_id": "acc-chk", "amount": 1,'
            b' "date": "June", "pending": false}], "modified": [], "removed": [], "next_cursor": "c",'
            b' "has_more": false}',
            "page 1.added[0].date: not a date",
        ),
    ],
)
def test_broken_payload(plaid_connection, user, plaid_fake, body, field):
    _sync_all(plaid_connection, user)
    before = data_snapshot()
    plaid_fake.fail_next(path="/transactions/sync", status=200, body=body)
    with pytest.raises(ProviderBadResponse) as excinfo:
        _sync_transactions(plaid_connection, user)
    assert field in excinfo.value.message
    _assert_failed_cleanly(before, "provider_bad_response")


def test_timeout_and_truncated_body(plaid_connection, user, plaid_fake, settings):
    _sync_all(plaid_connection, user)
    before = data_snapshot()
    settings.FINSYNC_HTTP_READ_TIMEOUT = 0.2
    plaid_fake.fail_next(path="/transactions/sync", sleep=0.5, times=3)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        _sync_transactions(plaid_connection, user)
    _assert_failed_cleanly(before, "provider_unavailable")
    plaid_fake.fail_next(path="/transactions/sync", truncate_to=30, times=3)
    with pytest.raises(ProviderUnavailable, match="cut short"):
        _sync_transactions(plaid_connection, user)
    _assert_failed_cleanly(before, "provider_unavailable")


def test_settings_are_required_and_https_enforced(plaid_connection, user, settings, plaid_fake):
    settings.PLAID_SECRET = ""
    with pytest.raises(CredentialsInvalid, match="PLAID_CLIENT_ID and PLAID_SECRET"):
        _sync_transactions(plaid_connection, user)
    settings.PLAID_SECRET = plaid_fake.secret
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = False
    with pytest.raises(ValidationError, match="PLAID_BASE_URL must use https"):
        _sync_transactions(plaid_connection, user)
    assert SyncRun.objects.filter(status="failed").count() == 2


# --- the fake speaks Plaid's schema ----------------------------------------------------


def test_fake_responses_validate_against_the_openapi_schema(plaid_connection, user, plaid_fake):
    item = plaid_fake.items[PLAID_TOKEN]
    item.remove("pend-5", "acc-chk")
    item.modify(transaction("tx-2", "acc-chk", 13.75, date(2026, 5, 3), "Blue Bottle", category=None))
    item.add_investment_transaction(
        investment_transaction(
            "inv-1", "acc-inv", date(2026, 5, 4), type="buy", subtype="buy", amount=10.0, security_id="sec-x"
        ),
        security("sec-x", "X Corp", "X", "equity", 10.0),
    )
    _sync_all(plaid_connection, user)
    # The app-level endpoints: a link token, an exchange, a verification key, an Item's removal.
    PlaidProvider.create_link_token(
        client_user_id="u-1", client_name="FinSync", language="en", country_codes=["US"], products=["transactions"]
    )
    plaid_fake.add_public_token("public-sandbox-1", item)
    assert PlaidProvider._exchange("public-sandbox-1") == PLAID_TOKEN
    plaid_fake.add_webhook_key("kid-1", ec.generate_private_key(ec.SECP256R1()))
    assert PlaidProvider.fetch_webhook_key("kid-1")["kid"] == "kid-1"
    plaid_fake.items[PLAID_TOKEN].login_required = True
    _sync_all(plaid_connection, user)
    plaid_fake.items[PLAID_TOKEN].login_required = False
    PlaidProvider(credentials={"access_token": PLAID_TOKEN}, config={}).on_disconnect()
    seen = set()
    for path, status, body in plaid_fake.responses:
        component = plaid_schema.RESPONSE_SCHEMAS[path] if status == 200 else "PlaidError"
        assert plaid_schema.errors(body, component) == [], (path, status)
        seen.add(component)
    assert seen == {*plaid_schema.RESPONSE_SCHEMAS.values(), "PlaidError"}
    broken = {**plaid_fake.responses[0][2], "accounts": [{"account_id": None}]}
    assert plaid_schema.errors(broken, "AccountsGetResponse")  # the check does bite


# --- the next page is fetched while the current one is mapped ----------------------------


@pytest.fixture
def plaid_provider(plaid_server):
    provider = PlaidProvider(credentials={"access_token": PLAID_TOKEN}, config={})
    yield provider
    provider.close()


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("finsync-plaid")]


def _eventually(check, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_next_page_is_requested_while_the_consumer_holds_the_current_one(plaid_provider, plaid_fake):
    plaid_fake.page_size = 2  # five events: pages of 2, 2 and 1
    pages = plaid_provider.iter_transaction_pages(start=None, end=None)
    first = next(pages)
    assert _eventually(lambda: len(plaid_fake.sync_requests()) == 2)
    assert plaid_fake.sync_requests()[1]["cursor"] == first.next_cursor
    rest = list(pages)
    assert [len(page.transactions) for page in [first, *rest]] == [2, 2, 1]
    assert len(plaid_fake.sync_requests()) == 3  # nothing asked after a page without has_more
    assert not _prefetch_threads()


def test_closing_the_pages_early_leaves_no_thread_running(plaid_provider, plaid_fake):
    plaid_fake.page_size = 2
    plaid_fake.fail_next(path="/transactions/sync", after=1, sleep=0.3)  # page 2 is in flight at the close
    pages = plaid_provider.iter_transaction_pages(start=None, end=None)
    next(pages)
    assert _eventually(lambda: len(plaid_fake.sync_requests()) == 2)
    assert _prefetch_threads()
    pages.close()
    assert not _prefetch_threads()
    assert len(plaid_fake.sync_requests()) == 2  # page 3 was never asked for
    assert len(plaid_provider.fetch_accounts().accounts) == 3  # the session serves the caller again


def test_pages_before_a_failing_page_are_handed_over_first(plaid_provider, plaid_fake):
    plaid_fake.page_size = 2
    plaid_fake.fail_next(plaid_error("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"), path="/transactions/sync", after=2)
    received = []
    with pytest.raises(provider_errors.ProviderAuthError, match="log in to the institution again"):
        for page in plaid_provider.iter_transaction_pages(start=None, end=None):
            received.append(page)
    assert [len(page.transactions) for page in received] == [2, 2]
    assert not _prefetch_threads()


BAD_ROW_PAGE = {
    "accounts": [],
    "added": [
        transaction("tx-ok", "acc-chk", 1, date(2026, 6, 1), "Fine"),
        {**transaction("tx-bad", "acc-chk", 1, date(2026, 6, 1), "Bad"), "amount": "ten"},
    ],
    "modified": [],
    "removed": [],
    "next_cursor": "c",
    "has_more": False,
}
# fault on the request for page 3 -> the sync's error, its message, requests made for page 3 (with retries)
PAGE_3_FAULTS = {
    "http_500": (plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", status=500), ProviderUnavailable, "unavailable", 3),
    "login_required": (plaid_error("ITEM_ERROR", "ITEM_LOGIN_REQUIRED"), ReauthRequired, "log in", 1),
    "rate_limited": (
        plaid_error("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", status=429),
        ProviderRateLimited,
        "TRANSACTIONS_SYNC_LIMIT",
        1,
    ),
    "plaid_api_error": (plaid_error("INVALID_REQUEST", "UNKNOWN_FIELDS"), ProviderUnavailable, "UNKNOWN_FIELDS", 1),
    "bad_json": (Fault(status=200, body=b'{"accounts": ['), ProviderBadResponse, "not valid JSON", 1),
    "bad_row": (
        Fault(status=200, body=json.dumps(BAD_ROW_PAGE).encode()),
        ProviderBadResponse,
        "page 3.added[1].amount: not a number",
        1,
    ),
}


@pytest.mark.parametrize("fault", sorted(PAGE_3_FAULTS))
def test_an_error_on_page_3_fails_the_sync_with_nothing_applied(plaid_connection, user, plaid_fake, fault):
    _sync_all(plaid_connection, user)
    before, cursor = data_snapshot(), Connection.objects.get(pk=plaid_connection.pk).cursor
    item = plaid_fake.items[PLAID_TOKEN]
    for n in range(7, 13):
        item.add(transaction(f"tx-{n}", "acc-chk", n, date(2026, 6, 1), f"Shop {n}"))
    plaid_fake.page_size = 2
    answer, error, message, attempts = PAGE_3_FAULTS[fault]
    plaid_fake.fail_next(copy.deepcopy(answer), path="/transactions/sync", after=2, times=attempts)
    requests_before = len(plaid_fake.sync_requests())
    with pytest.raises(error) as excinfo:
        _sync_transactions(plaid_connection, user)
    assert message in excinfo.value.message
    _assert_failed_cleanly(before, error.code)
    assert Connection.objects.get(pk=plaid_connection.pk).cursor == cursor
    assert len(plaid_fake.sync_requests()) - requests_before == 2 + attempts
    assert not _prefetch_threads()


def test_mutation_on_a_prefetched_page_restarts_the_pass(plaid_provider, plaid_fake):
    plaid_fake.page_size = 2
    plaid_fake.fail_next(plaid_error("TRANSACTIONS_ERROR", MUTATION), path="/transactions/sync", after=2)
    pages = list(plaid_provider.iter_transaction_pages(start=None, end=None))
    # Pages 1 and 2 are handed over, the request for page 3 answers MUTATION, the pass starts over.
    assert [page.restart for page in pages] == [False, False, True, False, False]
    assert [len(page.transactions) for page in pages] == [2, 2, 2, 2, 1]
    cursors = [r.get("cursor") for r in plaid_fake.sync_requests()]
    assert cursors[2] == pages[1].next_cursor
    assert cursors[3] is None  # from the first cursor again (none: the start of the history)
    assert len(cursors) == 3 + 3
    assert not _prefetch_threads()


def test_max_pages_is_not_exceeded_by_the_prefetch(plaid_provider, plaid_fake, settings):
    settings.FINSYNC_HTTP_MAX_PAGES = 2
    plaid_fake.page_size = 2
    received = []
    with pytest.raises(provider_errors.ProviderUnavailable, match="more than 2 pages"):
        for page in plaid_provider.iter_transaction_pages(start=None, end=None):
            received.append(page)
    assert len(received) == 2
    assert len(plaid_fake.sync_requests()) == 2


# --- the fast mapping path and its fallback to the careful readers ----------------------


DROP = object()  # remove the key


def _row(changes: dict | None = None, **more) -> dict:
    """A Transaction object as the client parses it (fractions as Decimal), with `changes` applied."""
    raw = json.loads(json.dumps(transaction("tx-ok", "acc-chk", 12.5, date(2026, 6, 1), "Cafe")), parse_float=Decimal)
    for key, value in {**(changes or {}), **more}.items():
        if value is DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


# changes to a well-formed row -> the error after "page 1.added[1]"
BROKEN_ROWS = {
    "not an object": (None, ": not an object"),
    "transaction_id missing": ({"transaction_id": DROP}, ".transaction_id: missing"),
    "transaction_id not an id": ({"transaction_id": 1.5}, ".transaction_id: not an id"),
    "transaction_id blank": ({"transaction_id": "  "}, ".transaction_id: empty"),
    "account_id missing": ({"account_id": DROP}, ".account_id: missing"),
    "account_id null": ({"account_id": None}, ".account_id: not an id"),
    "amount missing": ({"amount": DROP}, ".amount: missing"),
    "amount text": ({"amount": "ten"}, ".amount: not a number"),
    "amount boolean": ({"amount": True}, ".amount: not a number"),
    "amount NaN": ({"amount": float("nan")}, ".amount: not a finite number"),
    "date missing": ({"date": DROP}, ".date: missing"),
    "date text": ({"date": "June"}, ".date: not a date (YYYY-MM-DD)"),
    "date number": ({"date": 20260601}, ".date: not a date"),
    "pending missing": ({"pending": DROP}, ".pending: missing"),
    "pending text": ({"pending": "yes"}, ".pending: not true or false"),
    "iso_currency_code": ({"iso_currency_code": 840}, ".iso_currency_code: not a string"),
    "unofficial_currency_code": (
        {"iso_currency_code": None, "unofficial_currency_code": 7},
        ".iso_currency_code: not a string",
    ),
    "name": ({"name": 5}, ".name: not a string"),
    "original_description": ({"name": None, "original_description": ["x"]}, ".original_description: not a string"),
    "merchant_name": ({"merchant_name": {}}, ".merchant_name: not a string"),
    "datetime": ({"datetime": "yesterday"}, ".datetime: not an ISO 8601 timestamp"),
    "authorized_datetime": ({"authorized_datetime": 17}, ".datetime: not a timestamp"),
    "pending_transaction_id": ({"pending_transaction_id": 9}, ".pending_transaction_id: not a string"),
}


def _serve_page(plaid_fake, **lists) -> None:
    page = {"accounts": [], "added": [], "modified": [], "removed": [], "next_cursor": "c", "has_more": False}
    # Decimals go out as JSON numbers, as Plaid writes them.
    body = json.dumps({**page, **lists}, default=float).encode()
    plaid_fake.fail_next(path="/transactions/sync", status=200, body=body)


@pytest.mark.parametrize("case", sorted(BROKEN_ROWS))
def test_a_broken_row_names_the_field(plaid_provider, plaid_fake, case):
    changes, problem = BROKEN_ROWS[case]
    broken = "not a row" if changes is None else _row(changes)
    _serve_page(plaid_fake, added=[_row(), broken])
    with pytest.raises(provider_errors.ProviderBadResponse) as excinfo:
        list(plaid_provider.iter_transaction_pages(start=None, end=None))
    assert excinfo.value.message == f"page 1.added[1]{problem}"


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        ({"modified": [_row(), _row(), _row(date="2026-02-30")]}, "page 1.modified[2].date: not a date (YYYY-MM-DD)"),
        ({"removed": [{"transaction_id": "tx-1", "account_id": "a"}, []]}, "page 1.removed[1]: not an object"),
        ({"removed": [{"transaction_id": 2.5}]}, "page 1.removed[0].transaction_id: not an id"),
        ({"removed": [{"transaction_id": "tx-gone"}]}, "page 1.removed[0].account_id: missing"),
        ({"removed": [{"transaction_id": "tx-1", "account_id": " "}]}, "page 1.removed[0].account_id: empty"),
    ],
)
def test_broken_modified_and_removed_entries_name_the_field(plaid_provider, plaid_fake, lists, message):
    _serve_page(plaid_fake, **lists)
    with pytest.raises(provider_errors.ProviderBadResponse) as excinfo:
        list(plaid_provider.iter_transaction_pages(start=None, end=None))
    assert excinfo.value.message == message


def test_removed_entries_map_as_before(plaid_provider, plaid_fake):
    _serve_page(
        plaid_fake,
        added=[_row(transaction_id="tx-a"), _row(transaction_id="tx-b")],
        removed=[{"transaction_id": " tx-a ", "account_id": " acc-x "}, {"transaction_id": "tx-b"}],
    )
    (page,) = plaid_provider.iter_transaction_pages(start=None, end=None)
    assert page.transactions == []  # both rows were removed later on their page
    assert [(r.provider_transaction_id, r.provider_account_id) for r in page.removed] == [
        ("tx-a", "acc-x"),
        ("tx-b", "acc-chk"),  # the account of the row it removes
    ]


# well-formed rows: the fast path maps them (True) or leaves them to the careful readers (False)
WELL_FORMED_ROWS = {
    "as served": ({}, True),
    "integer amount": ({"amount": 12}, True),
    "amount as text": ({"amount": " 1,234.50 "}, False),
    "lowercase currency": ({"iso_currency_code": "eur"}, True),
    "padded currency": ({"iso_currency_code": " Eur "}, True),
    "unofficial currency": ({"iso_currency_code": None, "unofficial_currency_code": "BTC"}, True),
    "custom currency": ({"iso_currency_code": None, "unofficial_currency_code": "points"}, True),
    "no currency": ({"iso_currency_code": None}, True),
    "empty name": ({"name": "", "original_description": "CARD 1234 CAFE"}, True),
    "no description": ({"name": None, "original_description": None}, True),
    "legacy category": ({"personal_finance_category": None, "category": ["Food and Drink", 3, "Cafes"]}, True),
    "no category": ({"personal_finance_category": {"primary": None}, "category": None}, True),
    "datetime": ({"datetime": "2026-06-01T10:30:00Z", "authorized_datetime": "2026-05-31T09:00:00Z"}, True),
    "authorized datetime, naive": ({"authorized_datetime": "2026-06-01T10:30:00"}, True),
    "offset datetime": ({"datetime": "2026-06-01T10:30:00+02:00"}, True),
    "pending null": ({"pending": None}, False),
    "posted with its pending id": ({"pending_transaction_id": "pend-1", "merchant_name": "Cafe"}, True),
    "padded ids": ({"transaction_id": " tx-1 ", "account_id": " acc-chk "}, True),
    "numeric ids": ({"transaction_id": 17, "account_id": 4}, False),
    "compact date": ({"date": "20260601"}, True),
}


@pytest.mark.parametrize("case", sorted(WELL_FORMED_ROWS))
def test_fast_path_maps_well_formed_rows_as_the_careful_readers_do(case):
    changes, fast = WELL_FORMED_ROWS[case]
    raw = _row(changes)
    provider = PlaidProvider(credentials={"access_token": PLAID_TOKEN}, config={})
    try:
        careful = provider._transaction(raw, "row")
    finally:
        provider.close()
    mapped = fast_transaction(raw)
    assert (mapped is not None) == fast
    if mapped is not None:
        assert repr(mapped) == repr(careful)


def test_well_formed_rows_served_map_as_the_careful_readers_do(plaid_provider, plaid_fake):
    rows = [_row(changes, transaction_id=f"tx-{n}") for n, (changes, _) in enumerate(WELL_FORMED_ROWS.values())]
    _serve_page(plaid_fake, added=rows[::2], modified=rows[1::2])
    (page,) = plaid_provider.iter_transaction_pages(start=None, end=None)
    expected = [plaid_provider._transaction(raw, "row") for raw in rows[::2] + rows[1::2]]
    assert [repr(t) for t in page.transactions] == [repr(t) for t in expected]


CANDIDATE_VALUES = {
    "transaction_id": ["tx-1", " tx-1 ", "", "  ", 17, True, None, Decimal("1.5"), DROP],
    "account_id": ["acc-chk", " a ", "", 4, False, None, DROP],
    "amount": [
        Decimal("12.50"),
        Decimal("-0.00"),
        12,
        0,
        "12.5",
        "1,234",
        "ten",
        True,
        None,
        float("nan"),
        1.5,
        Decimal("Infinity"),
        DROP,
    ],
    "date": ["2026-06-01", "20260601", "2026-13-01", "", 20260601, None, DROP],
    "pending": [True, False, None, "yes", 0, DROP],
    "iso_currency_code": ["USD", "usd", " eur ", "EURO", "\u00c4\u00d6\u00dc", "", None, 840, DROP],
    "unofficial_currency_code": ["BTC", "points", None, 7, DROP],
    "name": ["Cafe", "", None, 5, [], DROP],
    "original_description": ["CARD CAFE", "", None, ["x"], DROP],
    "merchant_name": ["Cafe", "", None, {}, DROP],
    "datetime": [None, "2026-06-01T10:30:00Z", "2026-06-01T10:30:00+02:00", "2026-06-01", "yesterday", "", 17, DROP],
    "authorized_datetime": [None, "2026-06-01T08:00:00", "nope", 17, False, DROP],
    "pending_transaction_id": [None, "", "pend-1", 9, DROP],
    "personal_finance_category": [None, {"primary": "FOOD"}, {"primary": 3}, "FOOD", DROP],
    "category": [None, ["Food", "Cafe"], ["Food", 3], "Food", DROP],
}
# A few fields of a well-formed row changed at a time, so that many rows stay well-formed.
ROW_CHANGES = st.lists(
    st.sampled_from(sorted(CANDIDATE_VALUES)).flatmap(
        lambda key: st.tuples(st.just(key), st.sampled_from(CANDIDATE_VALUES[key]))
    ),
    max_size=4,
)


@pytest.mark.slow
@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROW_CHANGES)
def test_fast_path_never_disagrees_with_the_careful_readers(changes):
    """Whatever the fast path maps, the careful readers map the same; where they refuse, it gives up."""
    raw = _row(dict(changes))  # a few fields changed at a time, so that many rows stay well-formed
    provider = PlaidProvider(credentials={"access_token": PLAID_TOKEN}, config={})
    try:
        careful = provider._transaction(raw, "row")
    except provider_errors.ProviderBadResponse:
        careful = None
    finally:
        provider.close()
    mapped = fast_transaction(raw)
    assert mapped is None or repr(mapped) == repr(careful)


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROW_CHANGES)
def test_rows_decoded_with_only_the_mapped_fields_map_as_rows_read_whole(changes):
    """A page's rows as `Row`s (the fields the mapping reads) map exactly as the same rows read whole."""
    body = {"accounts": [], "added": [_row(dict(changes))], "modified": [], "removed": [], "next_cursor": "c"}
    data = msgspec.json.Encoder(decimal_format="number").encode(body | {"has_more": False})
    typed = read_sync_answer(data)
    whole = parse_json(data, "page")
    if typed is None:  # only when msgspec refuses the bytes (an Infinity literal): then the page is read whole
        with pytest.raises(msgspec.DecodeError):
            msgspec.json.decode(data)
        return
    assert type(typed["added"][0]) is Row
    assert repr(fast_transaction(typed["added"][0])) == repr(fast_transaction(whole["added"][0]))


def test_a_page_not_in_the_usual_shape_is_read_whole():
    assert (
        read_sync_answer(b'{"added": [], "modified": [], "removed": [], "next_cursor": "", "has_more": false}') is None
    )
    assert (
        read_sync_answer(
            b'{"accounts": [], "added": [1], "modified": [], "removed": [], "next_cursor": "", "has_more": false}'
        )
        is None
    )
    assert read_sync_answer(b"[]") is None


# --- the benchmark's fake serves exactly what the fake would ---------------------------------


BENCH_ROWS = [
    ("acct-000", "t-0000000", date(2026, 6, 14), "-12.50", "Card purchase 1", "Merchant 1", True),
    ("acct-001", "t-0000001", date(2025, 1, 31), "1500.00", 'Refund "100%" \\ caf\u00e9', "", False),
    ("acct-000", "t-0000002", date(2024, 6, 15), "0.00", "Snow \u2603 and \U0001f600", "Shop", False),
    ("acct-001", "t-0000003", date(2024, 6, 16), "-2499.99", "Card purchase 3", "Merchant\n3", False),
]
BENCH_CHANGES = [
    ("acct-000", "t-0000002", date(2024, 6, 15), "-1.01", "Amended 2", "", False),
    ("acct-001", "n1-000000", date(2026, 6, 1), "-7.01", "New 0", "Shop", False),
]


def test_benchmark_pages_are_byte_for_byte_what_the_fake_serves(_http_settings):
    fake = plaid_data.build_fake(2, ["acct-000", "acct-001"], BENCH_ROWS)
    plaid_data.add_changes(fake, BENCH_CHANGES)
    item = fake.items[plaid_data.ACCESS_TOKEN]
    status, body = fake._answer(
        {"REQUEST_METHOD": "POST", "HTTP_PLAID_CLIENT_ID": fake.client_id, "HTTP_PLAID_SECRET": fake.secret},
        "/transactions/sync",
        json.dumps({"access_token": item.access_token, "count": 500}).encode(),
    )
    assert status == 200
    as_dicts = {
        **body,
        "added": [plaid_data._transaction(row) for row in [*BENCH_ROWS, BENCH_CHANGES[1]]],
        "modified": [plaid_data._transaction(BENCH_CHANGES[0])],
    }
    assert encode_body(body) == json.dumps(as_dicts).encode()

    with LiveServer(fake) as server:  # and the client parses and maps every row of it
        _http_settings.PLAID_BASE_URL = server.url
        _http_settings.PLAID_CLIENT_ID, _http_settings.PLAID_SECRET = fake.client_id, fake.secret
        provider = PlaidProvider(credentials={"access_token": plaid_data.ACCESS_TOKEN}, config={})
        try:
            (page,) = provider.iter_transaction_pages(start=None, end=None)
        finally:
            provider.close()
    mapped = {t.provider_transaction_id: (t.amount, t.description, t.payee, t.pending) for t in page.transactions}
    assert mapped["acct-001.t-0000001"] == (Decimal(1500), 'Refund "100%" \\ caf\u00e9', "", False)
    assert mapped["acct-000.t-0000002"] == (Decimal("-1.01"), "Amended 2", "", False)  # modified, the last version
    assert mapped["acct-001.t-0000003"][2] == "Merchant\n3"
    assert len(mapped) == 5


def test_prepared_benchmark_pages_are_the_live_pages():
    """The benchmark fake's pages encoded ahead are the pages it serves live (but each answer's request_id)."""
    fake = plaid_data.build_fake(2, ["acct-000", "acct-001"], BENCH_ROWS * 300)  # 1,200 rows: 3 pages
    item = fake.items[plaid_data.ACCESS_TOKEN]

    def pass_from_start() -> list[dict]:
        pages, cursor = [], ""
        while True:
            status, body = fake._sync(item, {"count": 500, **({"cursor": cursor} if cursor else {})})
            assert status == 200
            page = json.loads(encode_body(body))
            pages.append({k: v for k, v in page.items() if k != "request_id"})
            if not page["has_more"]:
                return pages
            cursor = page["next_cursor"]

    live = pass_from_start()
    fake.prepare()
    prepared = pass_from_start()
    assert len(live) == 3 and prepared == live
    assert all(type(body) is RawJSON for _, body in [fake._sync(item, {"count": 500})])
    plaid_data.add_changes(fake, BENCH_CHANGES)
    fake.prepare()
    assert len(pass_from_start()) == 3 and pass_from_start()[-1]["modified"]
