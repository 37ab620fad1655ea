"""Transaction spans over real HTTP: a SimpleFIN re-sync skips the chunks whose raw rows did not change.

The skip is proved, not inferred from counts: a stored value changed behind
the sync's back survives a re-sync whose span was skipped, and is repaired
when its span is mapped (changed, moved out of the window, or spans off).
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection as db
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from providers.simplefin import CHUNK_DAYS, SimpleFINProvider, _chunks
from sync.commands import SyncTransactions
from sync.models import Account, SyncRun, Transaction, TransactionSpan
from sync.services.connections import create_connection
from sync.services.handlers import sync_transactions
from tests.fakes.server import Fault, LiveServer
from tests.fakes.simplefin import SimpleFINFake
from tests.providers.helpers import data_snapshot

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 6, 30)
CHUNKS = _chunks(START, END)  # Jan 1-6, Jan 7-Mar 7, Mar 8-May 6, May 7-Jun 30: cut every 60 days from 1970


@pytest.fixture
def bank(simplefin_fake):
    """The conftest bank plus a row every third day of the window on each account."""
    for account_id in simplefin_fake.accounts:
        day, n = START, 0
        while day <= END:
            simplefin_fake.add_transaction(
                account_id, f"{account_id}-{n:03d}", posted=day, amount=f"-{n % 97}.{n % 100:02d}", description=f"R{n}"
            )
            day, n = day + timedelta(days=3), n + 1
    return simplefin_fake


def sync(connection, user, start=START, end=END, **kwargs):
    command = SyncTransactions(
        connection_id=connection.pk, user_id=user.pk, force=True, start_date=start, end_date=end, **kwargs
    )
    return sync_transactions(command, source="api")


def rows_in(chunk) -> int:
    first, last = CHUNKS[chunk]
    return Transaction.objects.filter(posted_date__range=(first, last), is_removed=False).count()


def tamper(provider_id: str, amount: str = "-999.99") -> None:
    """Change a stored row behind the sync's back (nothing in FinSync does this)."""
    Transaction.objects.filter(provider_transaction_id=provider_id).update(amount=Decimal(amount))


def amount(provider_id: str) -> Decimal:
    return Transaction.objects.get(provider_transaction_id=provider_id).amount


def spans() -> dict:
    return {(s.account.provider_account_id, s.first_date, s.last_date): s for s in TransactionSpan.objects.all()}


def test_chunks_are_cut_on_fixed_boundaries():
    expected = [
        (date(2026, 1, 1), date(2026, 1, 6)),
        (date(2026, 1, 7), date(2026, 3, 7)),
        (date(2026, 3, 8), date(2026, 5, 6)),
        (date(2026, 5, 7), date(2026, 6, 30)),
    ]
    assert expected == CHUNKS
    assert (CHUNKS[1][0] - date(1970, 1, 1)).days % CHUNK_DAYS == 0
    # A window that fits one request stays one request.
    assert _chunks(date(2026, 5, 1), date(2026, 6, 15)) == [(date(2026, 5, 1), date(2026, 6, 15))]


def test_unchanged_resync_skips_every_span_and_writes_nothing(simplefin_connection, user, bank):
    first = sync(simplefin_connection, user)
    assert first.status == "succeeded" and first.created > 180
    stored = spans()
    assert len(stored) == 3 * len(CHUNKS)  # every account's chunks are spans
    assert sum(s.rows for s in stored.values()) == first.created
    tamper("chk-001-030")  # in chunk 3

    before = data_snapshot()
    stamps = sorted(Transaction.objects.values_list("pk", "updated_at"))
    again = sync(simplefin_connection, user)
    assert (again.created, again.updated, again.removed, again.unchanged) == (0, 0, 0, first.created)
    assert data_snapshot()["transactions"] == before["transactions"]
    assert sorted(Transaction.objects.values_list("pk", "updated_at")) == stamps  # not one row written
    assert {k: (s.pk, s.digest, s.synced_at) for k, s in spans().items()} == {
        k: (s.pk, s.digest, s.synced_at) for k, s in stored.items()
    }
    assert amount("chk-001-030") == Decimal("-999.99")  # skipped: its span was not mapped


def test_spans_off_maps_every_row(simplefin_connection, user, bank, settings):
    sync(simplefin_connection, user)
    tamper("chk-001-030")
    settings.FINSYNC_TRANSACTION_SPANS = False
    again = sync(simplefin_connection, user)
    assert again.updated == 1
    assert amount("chk-001-030") == Decimal("-30.30")


def test_a_changed_row_maps_its_span_only(simplefin_connection, user, bank):
    # Row n is dated START + 3n days: chunk 2 holds rows 2-21, chunk 3 rows 22-41, chunk 4 rows 42-60.
    first = sync(simplefin_connection, user)
    before = spans()
    tamper("chk-001-030")  # chunk 3: repaired with it
    tamper("chk-001-035")  # chunk 3
    tamper("chk-001-010")  # chunk 2: stays
    tamper("chk-001-050")  # chunk 4: stays
    bank.accounts["chk-001"].transactions["chk-001-031"].amount = "-1.23"  # chunk 3 changes at the provider

    again = sync(simplefin_connection, user)
    assert (again.created, again.updated, again.removed) == (0, 3, 0)
    assert again.unchanged == first.created - 3
    assert amount("chk-001-031") == Decimal("-1.23")
    assert amount("chk-001-030") == Decimal("-30.30") and amount("chk-001-035") == Decimal("-35.35")
    assert amount("chk-001-010") == Decimal("-999.99") and amount("chk-001-050") == Decimal("-999.99")
    after = spans()
    changed = [key for key in after if after[key].digest != before[key].digest]
    assert changed == [("chk-001", *CHUNKS[2])]
    assert after[changed[0]].synced_at > before[changed[0]].synced_at


def test_removed_and_added_rows(simplefin_connection, user, bank):
    first = sync(simplefin_connection, user)
    bank.remove_transaction("cc-002", "cc-002-040")
    bank.add_transaction("inv-003", "late", posted=date(2026, 6, 29), amount="1.00", description="LATE")
    again = sync(simplefin_connection, user)
    assert (again.created, again.updated, again.removed) == (1, 0, 1)
    assert again.unchanged == first.created - 1
    assert Transaction.objects.get(provider_transaction_id="cc-002-040").is_removed
    later = TransactionSpan.objects.filter(first_date__gte=CHUNKS[2][0]).aggregate(n=Sum("rows"))["n"]
    assert rows_in(2) + rows_in(3) == later


def test_pending_row_posts_in_the_next_chunk_with_the_users_notes(simplefin_connection, user, bank):
    edge = CHUNKS[2][1]  # the last day of chunk 3
    bank.add_transaction("chk-001", "pend-x", pending=True, transacted_at=edge, amount="-64.00", description="HOTEL")
    sync(simplefin_connection, user)
    Transaction.objects.filter(provider_transaction_id="pend-x").update(notes="business trip")
    tamper("chk-001-001")  # chunk 1: skipped throughout

    bank.remove_transaction("chk-001", "pend-x")
    bank.add_transaction("chk-001", "post-x", posted=edge + timedelta(days=2), amount="-64.00", description="HOTEL")
    result = sync(simplefin_connection, user)
    assert (result.created, result.removed) == (1, 1)
    posted = Transaction.objects.get(provider_transaction_id="post-x")
    assert posted.replaces.provider_transaction_id == "pend-x" and posted.notes == "business trip"
    assert amount("chk-001-001") == Decimal("-999.99")


def test_a_moving_window_keeps_its_inner_spans(simplefin_connection, user, bank):
    sync(simplefin_connection, user)
    tamper("chk-001-000")  # Jan 1: the first chunk, which the next window no longer has whole
    tamper("chk-001-030")  # an inner chunk: the same span in both windows
    moved = sync(simplefin_connection, user, start=START + timedelta(days=3), end=END + timedelta(days=5))
    assert moved.status == "succeeded"
    assert amount("chk-001-030") == Decimal("-999.99")  # skipped
    assert amount("chk-001-000") == Decimal("-999.99")  # outside the new window: untouched
    assert ("chk-001", CHUNKS[1][0], CHUNKS[1][1]) in spans()
    assert ("chk-001", START, CHUNKS[0][1]) not in spans()  # replaced by the new window's first piece
    assert ("chk-001", START + timedelta(days=3), CHUNKS[0][1]) in spans()


@pytest.mark.parametrize("elsewhere", [False, True], ids=["nothing-else-changed", "another-chunk-changed"])
def test_a_row_deleted_behind_the_sync_makes_it_fetch_again(simplefin_connection, user, bank, caplog, elsewhere):
    first = sync(simplefin_connection, user)
    with db.cursor() as cursor:  # nothing in FinSync deletes transactions; a DBA might
        cursor.execute("DELETE FROM sync_transaction WHERE provider_transaction_id = %s", ["cc-002-020"])
    tamper("cc-002-050")
    if elsewhere:
        bank.accounts["cc-002"].transactions["cc-002-001"].description = "CHANGED"
    bank.requests.clear()
    with caplog.at_level(logging.INFO, logger="finsync.sync"):
        again = sync(simplefin_connection, user)
    assert again.status == "succeeded"
    # The whole window mapped: the tampered row is repaired too.
    assert (again.created, again.updated) == (1, 1 + elsewhere)
    assert Transaction.objects.filter(provider_transaction_id="cc-002-020").exists()
    assert len(bank.accounts_requests()) == 2 * len(CHUNKS)  # the window, then the window again without spans
    assert "fetches again" in caplog.text
    assert SyncRun.objects.filter(kind="transactions").count() == 2
    assert first.created == Transaction.objects.filter(is_removed=False).count()


def test_an_id_sent_in_two_chunks_makes_it_fetch_again(simplefin_connection, user, bank, simplefin_server):
    sync(simplefin_connection, user)
    # The server lists a chunk-1 row again in chunk 2's answer (same id, same data): chunk 1 is
    # unchanged and skipped, so its ids meet the row in chunk 2's page: the sync fetches again.
    _, body, _ = bank._accounts(SimpleFINProvider._chunk_params(CHUNKS[1], None))
    answer = json.loads(body)
    early = bank.accounts["chk-001"].transactions["chk-001-000"].wire()
    next(a for a in answer["accounts"] if a["id"] == "chk-001")["transactions"].append(early)
    bank.faults.add(Fault(path="/accounts", body=json.dumps(answer).encode(), after=1))
    tamper("chk-001-030")
    bank.requests.clear()
    again = sync(simplefin_connection, user)
    assert again.status == "succeeded" and again.created == 0
    assert len(bank.accounts_requests()) == 2 * len(CHUNKS)
    assert amount("chk-001-030") == Decimal("-30.30")  # mapped on the second fetch
    assert Account.objects.get(provider_account_id="chk-001").transactions.filter(is_removed=True).count() == 0


def test_one_account_sync_uses_and_replaces_that_accounts_spans_only(simplefin_connection, user, bank):
    sync(simplefin_connection, user)
    before = spans()
    tamper("chk-001-030")
    tamper("cc-002-030")
    bank.accounts["cc-002"].transactions["cc-002-031"].amount = "-2.00"  # cc-002's chunk 3 changes
    card = Account.objects.get(provider_account_id="cc-002")
    result = sync(simplefin_connection, user, account_id=card.pk)
    assert (result.updated, result.unchanged) == (2, card.transactions.count() - 2)
    assert amount("cc-002-030") == Decimal("-30.30")  # its span was mapped
    assert amount("chk-001-030") == Decimal("-999.99")  # another account: not synced at all
    after = spans()
    assert [k for k in after if after[k].digest != before[k].digest] == [("cc-002", *CHUNKS[2])]
    assert all(request.params("account") == ["cc-002"] for request in bank.accounts_requests()[-len(CHUNKS) :])


def test_queries_do_not_grow_with_rows(user, _http_settings):
    """Initial, unchanged and changed syncs cost the same queries at 20 and 200 rows per account and chunk."""

    def queries_per_scenario(per_chunk: int) -> list[int]:
        fake = SimpleFINFake()
        for account_id in ("a", "b", "c"):
            fake.add_account(account_id, account_id.upper(), balance="1.00")
            for chunk, (first, last) in enumerate(CHUNKS):
                for n in range(per_chunk):
                    day = first + timedelta(days=n % ((last - first).days + 1))
                    fake.add_transaction(account_id, f"{chunk}-{n}", posted=day, amount=f"-{n}.00", description="x")
        counts = []
        with LiveServer(fake) as server:
            bank = create_connection(
                owner=user,
                provider="simplefin",
                name=f"{per_chunk} rows",
                options={"access_url": fake.access_url(server.url)},
                actor=user,
                source="cli",
            )
            for step in ("initial", "unchanged", "changed"):
                if step == "changed":
                    fake.accounts["b"].transactions["1-3"].amount = "-99.00"
                with CaptureQueriesContext(db) as captured:
                    result = sync(bank, user)
                assert result.status == "succeeded"
                counts.append(len(captured))
        return counts

    small, large = queries_per_scenario(20), queries_per_scenario(200)
    assert small == large
    assert small[1] < small[0]  # the unchanged re-sync reads and writes less than the first one
