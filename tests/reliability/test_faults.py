"""Injected faults at the first, a middle and the last page of a sync, and a database error
during the apply: the data tables stay exactly as they were, one failed run and its audit
events remain, and the next sync succeeds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection as db

from sync import errors
from sync.commands import SyncTransactions
from sync.models import AuditEvent, Connection, SyncRun
from sync.services.connections import create_connection
from sync.services.handlers import sync_transactions
from tests.fakes.plaid import plaid_error, transaction
from tests.providers.conftest import PLAID_TOKEN
from tests.sync.helpers import data_snapshot

pytestmark = pytest.mark.django_db

FAULTS = {
    "http_500": ({"status": 500, "times": 3}, "provider_unavailable"),
    "rate_limit_429": ({"status": 429, "headers": {"Retry-After": "7"}}, "provider_rate_limited"),
    "bad_json": ({"status": 200, "body": b'{"accounts": [ {"id": "x"'}, "provider_bad_response"),
    "timeout": ({"sleep": 0.5, "times": 3}, "provider_unavailable"),
}
PAGES = {"first": 0, "middle": 1, "last": 2}
INJECTED = []


def sync(connection, user, **window):
    return sync_transactions(
        SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True, **window), source="cli"
    )


def assert_failed_cleanly(before, connection, code):
    assert data_snapshot() == before
    run = SyncRun.objects.filter(connection=connection).latest()
    assert (run.status, run.reason_code) == ("failed", code)
    events = set(AuditEvent.objects.filter(correlation_id=run.correlation_id).values_list("event", flat=True))
    assert events == {"sync.transactions.attempted", "sync.transactions.failed"}
    assert not SyncRun.objects.filter(connection=connection, status="running").exists()


@pytest.fixture(params=sorted(FAULTS))
def fault(request, _http_settings):
    _http_settings.FINSYNC_HTTP_READ_TIMEOUT = 0.3
    return request.param


@pytest.mark.parametrize("page", sorted(PAGES))
def test_plaid_fault_at_a_page(user, plaid_fake, plaid_server, fault, page):
    bank = create_connection(
        owner=user, provider="plaid", options={"access_token": PLAID_TOKEN}, actor=user, source="cli"
    )
    sync(bank, user)
    item = plaid_fake.items[PLAID_TOKEN]
    for n in range(1100):  # three pages: 500 + 500 + 100
        item.add(transaction(f"late-{n}", "acc-cc", "2.50", date(2026, 5, 1) + timedelta(days=n % 40), "Late"))
    before, cursor = data_snapshot(), Connection.objects.get(pk=bank.pk).cursor
    spec, code = FAULTS[fault]
    if fault == "rate_limit_429":
        plaid_fake.fail_next(
            plaid_error("RATE_LIMIT_EXCEEDED", "TRANSACTIONS_SYNC_LIMIT", status=429),
            path="/transactions/sync",
            after=PAGES[page],
        )
    else:
        plaid_fake.fail_next(path="/transactions/sync", after=PAGES[page], **spec)
    INJECTED.append(("plaid", page, fault))

    with pytest.raises(errors.SyncError) as caught:
        sync(bank, user)

    assert caught.value.code == code
    assert_failed_cleanly(before, bank, code)
    assert Connection.objects.get(pk=bank.pk).cursor == cursor  # the cursor moves only with the data
    assert sync(bank, user).created == 1100


@pytest.mark.parametrize("page", sorted(PAGES))
def test_simplefin_fault_at_a_chunk(user, simplefin_fake, simplefin_server, fault, page):
    bank = create_connection(
        owner=user,
        provider="simplefin",
        options={"access_url": simplefin_fake.access_url(simplefin_server.url)},
        actor=user,
        source="cli",
    )
    window = {"start_date": date(2026, 1, 1), "end_date": date(2026, 6, 15)}  # three 60-day chunks
    sync(bank, user, **window)
    for n in range(30):
        simplefin_fake.add_transaction(
            "chk-001", f"new-{n}", posted=date(2026, 1, 5) + timedelta(days=5 * n), amount="-3.00", description="NEW"
        )
    before = data_snapshot()
    spec, code = FAULTS[fault]
    simplefin_fake.fail_next(path="/accounts", after=PAGES[page], **spec)
    INJECTED.append(("simplefin", page, fault))

    with pytest.raises(errors.SyncError) as caught:
        sync(bank, user, **window)

    assert caught.value.code == code
    assert_failed_cleanly(before, bank, code)
    assert sync(bank, user, **window).created == 30


def _alpaca_fault_request(category: str, page: str) -> int:
    """How many activity requests go through untouched before the faulty one, for a page of a category.

    With the history below each category has 6 pages of rows and the empty page that ends it (7 requests):
    the trade category's first page, the non-trade category's 4th page, the non-trade category's empty end.
    """
    return {"first": 0, "middle": 7 + 3, "last": 7 + 6}[page]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_alpaca_fault_at_a_page(user, alpaca_fake, alpaca_server, fault, page):
    from tests.fakes.alpaca import rate_limited
    from tests.providers.test_alpaca import add_history

    bank = create_connection(
        owner=user,
        provider="alpaca",
        options={"api_key_id": alpaca_fake.key_id, "api_secret_key": alpaca_fake.secret_key},
        actor=user,
        source="cli",
    )
    window = {"start_date": date(2026, 1, 1), "end_date": date(2026, 6, 30)}
    sync(bank, user, **window)
    stored = sync(bank, user, **window).unchanged
    add_history(alpaca_fake, 560)
    before = data_snapshot()
    spec, code = FAULTS[fault]
    after = _alpaca_fault_request("trade_activity", page)
    if fault == "rate_limit_429":
        alpaca_fake.fail_next(rate_limited(reset_in=20), path="/v2/account/activities", after=after)
    else:
        alpaca_fake.fail_next(path="/v2/account/activities", after=after, **spec)
    INJECTED.append(("alpaca", page, fault))

    with pytest.raises(errors.SyncError) as caught:
        sync(bank, user, **window)

    assert caught.value.code == code
    if fault == "rate_limit_429":
        assert 0 < caught.value.retry_after <= 20
    assert_failed_cleanly(before, bank, code)
    result = sync(bank, user, **window)
    assert (result.created, result.unchanged) == (1120, stored)


POISON_TRIGGER = {
    "postgresql": [
        """CREATE FUNCTION finsync_test_poison() RETURNS trigger AS $$ BEGIN
           IF NEW.description = 'POISON' THEN
               RAISE EXCEPTION 'poisoned row' USING ERRCODE = 'check_violation';
           END IF; RETURN NEW; END; $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER finsync_test_poison BEFORE INSERT ON sync_transaction
           FOR EACH ROW EXECUTE FUNCTION finsync_test_poison()""",
    ],
    "sqlite": [
        """CREATE TEMP TRIGGER finsync_test_poison BEFORE INSERT ON main.sync_transaction
           WHEN NEW.description = 'POISON' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END""",
    ],
}


def test_database_error_mid_apply_rolls_everything_back(user, simplefin_fake, simplefin_server):
    """A constraint violation raised by the database itself, on the last account's rows."""
    bank = create_connection(
        owner=user,
        provider="simplefin",
        options={"access_url": simplefin_fake.access_url(simplefin_server.url)},
        actor=user,
        source="cli",
    )
    window = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}
    sync(bank, user, **window)
    for account in ("chk-001", "cc-002", "inv-003"):
        simplefin_fake.add_transaction(
            account,
            f"more-{account}",
            posted=date(2026, 6, 2),
            amount="-1.00",
            description="POISON" if account == "inv-003" else "FINE",
        )
    with db.cursor() as cursor:
        for statement in POISON_TRIGGER[db.vendor]:
            cursor.execute(statement)
    before = data_snapshot()
    INJECTED.append(("simplefin", "apply", "database_error"))

    with pytest.raises(errors.ProviderBadResponse):
        sync(bank, user, **window)

    assert_failed_cleanly(before, bank, "provider_bad_response")
