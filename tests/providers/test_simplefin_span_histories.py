"""Random SimpleFIN histories: syncing with spans gives exactly what syncing every row gives.

Two connections read the same loopback SimpleFIN server. After every step
both sync the same window, one with FINSYNC_TRANSACTION_SPANS on (unchanged
chunks skipped), one with it off (every row mapped and compared); their counts
and their stored transactions must be identical. Steps add, change, move and
remove rows, post pending rows under new ids (across chunk boundaries too),
add undated pending rows (which make an account's chunks no spans), return
to an earlier state (old digests come back) and move the window, so that
spans are made, skipped, changed and dropped.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sync.commands import SyncAccounts, SyncTransactions
from sync.models import Transaction, TransactionSpan
from sync.services.connections import create_connection
from sync.services.handlers import sync_accounts, sync_transactions
from tests.factories import UserFactory
from tests.fakes.server import LiveServer
from tests.fakes.simplefin import SimpleFINFake

ORIGIN = date(2026, 1, 1)
WINDOWS = [  # 200 days (4 chunks), the same moved by a week, one chunk's worth
    (ORIGIN, ORIGIN + timedelta(days=199)),
    (ORIGIN + timedelta(days=7), ORIGIN + timedelta(days=206)),
    (ORIGIN + timedelta(days=60), ORIGIN + timedelta(days=90)),
]
ACCOUNTS = ["acct-a", "acct-b"]
STATS = {"histories": 0, "syncs": 0, "span_rows": 0}

days = st.integers(min_value=0, max_value=206).map(lambda n: ORIGIN + timedelta(days=n))
cents = st.integers(min_value=-50_000, max_value=50_000).map(lambda c: f"{c / 100:.2f}")


class SpanHistory(RuleBasedStateMachine):
    @initialize()
    def connect(self):
        STATS["histories"] += 1
        self.fake = SimpleFINFake()
        for account_id in ACCOUNTS:
            self.fake.add_account(account_id, account_id.upper(), balance="100.00")
        self.server = LiveServer(self.fake).start()
        self.user = UserFactory()
        options = {"access_url": self.fake.access_url(self.server.url)}
        self.banks = [
            create_connection(
                owner=self.user, provider="simplefin", name=name, options=options, actor=self.user, source="cli"
            )
            for name in ("spans", "every row")
        ]
        self.counter = 0
        self.window = WINDOWS[0]
        for account_id in ACCOUNTS:
            for n in range(24):  # a row every 9 days: every chunk of the windows has some
                day = ORIGIN + timedelta(days=9 * n)
                self.fake.add_transaction(
                    account_id, self.new_id("t"), posted=day, amount=f"-{n}.25", description="Old"
                )
        for bank in self.banks:
            sync_accounts_of(bank, self.user)
        self.remember()

    def teardown(self):
        if hasattr(self, "server"):
            self.server.stop()

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def rows(self, *, pending: bool | None = None) -> list[tuple[str, str]]:
        return [
            (account_id, tid)
            for account_id, account in self.fake.accounts.items()
            for tid, row in account.transactions.items()
            if pending is None or row.pending == pending
        ]

    # --- the provider's history ---------------------------------------------------

    @rule(account=st.sampled_from(ACCOUNTS), day=days, amount=cents, count=st.integers(1, 6))
    def add_posted(self, account, day, amount, count):
        for n in range(count):
            self.fake.add_transaction(
                account, self.new_id("t"), posted=day + timedelta(days=n * 9), amount=amount, description="Shop"
            )

    @rule(account=st.sampled_from(ACCOUNTS), day=days, amount=cents)
    def add_pending(self, account, day, amount):
        self.fake.add_transaction(
            account, self.new_id("p"), pending=True, transacted_at=day, amount=amount, description="Hold"
        )

    @rule(account=st.sampled_from(ACCOUNTS), amount=cents)
    def add_undated_pending(self, account, amount):
        self.fake.add_transaction(account, self.new_id("u"), pending=True, amount=amount, description="Undated")

    @precondition(lambda self: self.rows())
    @rule(data=st.data(), amount=cents)
    def change_amount(self, data, amount):
        account_id, tid = data.draw(st.sampled_from(self.rows()))
        self.fake.accounts[account_id].transactions[tid].amount = amount

    @precondition(lambda self: self.rows(pending=False))
    @rule(data=st.data(), day=days)
    def move(self, data, day):
        account_id, tid = data.draw(st.sampled_from(self.rows(pending=False)))
        row = self.fake.accounts[account_id].transactions[tid]
        self.fake.add_transaction(account_id, tid, posted=day, amount=row.amount, description=row.description)

    @precondition(lambda self: self.rows())
    @rule(data=st.data())
    def remove(self, data):
        self.fake.remove_transaction(*data.draw(st.sampled_from(self.rows())))

    @precondition(lambda self: self.rows(pending=True))
    @rule(data=st.data(), later=st.integers(0, 9))
    def post_pending(self, data, later):
        account_id, tid = data.draw(st.sampled_from(self.rows(pending=True)))
        row = self.fake.accounts[account_id].transactions.pop(tid)
        when = datetime.fromtimestamp(row.transacted_at, UTC).date() if row.transacted_at else ORIGIN
        day = when + timedelta(days=later)
        self.fake.add_transaction(account_id, self.new_id("t"), posted=day, amount=row.amount, description="Posted")

    @rule()
    def remember(self):
        self.saved = {a: copy.deepcopy(account.transactions) for a, account in self.fake.accounts.items()}

    @rule()
    def go_back(self):
        """The provider's rows return to a remembered state: old digests come back."""
        for account_id, rows in self.saved.items():
            self.fake.accounts[account_id].transactions = copy.deepcopy(rows)

    @rule(window=st.sampled_from(WINDOWS))
    def move_window(self, window):
        self.window = window

    # --- sync both, compare -------------------------------------------------------

    @rule()
    def nothing_changes(self):
        pass

    @invariant()
    def sync(self):
        """After every step: both connections sync the window and must agree."""
        with_spans = transactions(self.banks[0], self.user, self.window)
        with override_settings(FINSYNC_TRANSACTION_SPANS=False):
            every_row = transactions(self.banks[1], self.user, self.window)
        STATS["syncs"] += 2
        counts = [(r.status, r.created, r.updated, r.removed, r.unchanged) for r in (with_spans, every_row)]
        assert counts[0] == counts[1]
        assert stored(self.banks[0]) == stored(self.banks[1])
        STATS["span_rows"] += sum(  # rows the next sync may skip
            TransactionSpan.objects.filter(account__connection=self.banks[0]).values_list("rows", flat=True)
        )


def sync_accounts_of(bank, user):
    sync_accounts(SyncAccounts(connection_id=bank.pk, user_id=user.pk, force=True), source="cli")


def transactions(bank, user, window):
    start, end = window
    command = SyncTransactions(connection_id=bank.pk, user_id=user.pk, force=True, start_date=start, end_date=end)
    return sync_transactions(command, source="cli")


def stored(bank) -> list[tuple]:
    return sorted(
        Transaction.objects.filter(account__connection=bank).values_list(
            "account__provider_account_id",
            "provider_transaction_id",
            "posted_date",
            "amount",
            "status",
            "is_removed",
            "description",
            "replaces__provider_transaction_id",
        )
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_syncing_with_spans_equals_syncing_every_row(capsys, _http_settings):
    run_state_machine_as_test(
        SpanHistory,
        settings=settings(
            max_examples=12,
            stateful_step_count=14,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    with capsys.disabled():
        print(
            f"\nspan histories: {STATS['histories']}, syncs: {STATS['syncs']}, "
            f"rows in stored spans after each sync: {STATS['span_rows']}"
        )
