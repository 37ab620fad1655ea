"""Random provider histories, synced after every step: the database must equal the provider's truth."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest
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

from sync.models import Account, Transaction
from sync.services.connections import create_connection
from tests.factories import UserFactory
from tests.sync.helpers import accounts, transactions
from tests.sync.scripted import ScriptedProvider

WINDOW = {"start_date": date(2026, 1, 1), "end_date": date(2026, 12, 31)}
STATS = {"histories": 0, "steps": 0, "syncs": 0}

amounts = st.integers(min_value=-500_000, max_value=500_000).map(lambda cents: str(Decimal(cents) / 100))
days = st.integers(min_value=0, max_value=330).map(lambda n: (date(2026, 1, 5) + timedelta(days=n)).isoformat())


class BankHistory(RuleBasedStateMachine):
    """The provider's truth evolves by random steps; FinSync syncs after each one."""

    def __init__(self):
        super().__init__()
        self.truth = {"accounts": {}, "transactions": {}}
        self.counter = 0
        self.notes: dict[str, str] = {}  # pending id -> notes the user wrote on it

    @initialize()
    def connect(self):
        STATS["histories"] += 1
        self.user = UserFactory()
        self.connection = create_connection(
            owner=self.user, provider="scripted", options={}, actor=self.user, source="cli"
        )
        for n in range(2):
            self.truth["accounts"][f"acct-{n}"] = {"name": f"Account {n}", "open": True}
        self.sync()

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def sync(self):
        self.connection.config = {"truth": copy.deepcopy(self.truth)}
        self.connection.save(update_fields=["config"])
        accounts(self.connection, self.user, force=True)
        transactions(self.connection, self.user, force=True, **WINDOW)
        STATS["syncs"] += 2
        STATS["steps"] += 1

    def open_accounts(self):
        return sorted(pid for pid, a in self.truth["accounts"].items() if a["open"])

    def rows(self, pending=None):
        return sorted(
            tid
            for tid, row in self.truth["transactions"].items()
            if row["account"] in self.open_accounts() and (pending is None or row["pending"] == pending)
        )

    @rule(data=st.data(), amount=amounts, day=days, pending=st.booleans())
    def add(self, data, amount, day, pending):
        account = data.draw(st.sampled_from(sorted(self.truth["accounts"])))
        self.truth["transactions"][self.new_id("pend" if pending else "txn")] = {
            "account": account,
            "date": day,
            "amount": amount,
            "description": f"shop {self.counter}",
            "pending": pending,
        }
        self.sync()

    @precondition(lambda self: self.rows())
    @rule(data=st.data(), amount=amounts)
    def modify(self, data, amount):
        tid = data.draw(st.sampled_from(self.rows()))
        self.truth["transactions"][tid] |= {"amount": amount, "description": f"corrected {self.counter}"}
        self.sync()

    @precondition(lambda self: self.rows())
    @rule(data=st.data())
    def remove(self, data):
        del self.truth["transactions"][data.draw(st.sampled_from(self.rows()))]
        self.sync()

    @precondition(lambda self: self.rows(pending=True))
    @rule(data=st.data(), linked=st.booleans(), delay=st.integers(min_value=0, max_value=5))
    def post(self, data, linked, delay):
        """A pending row posts under a new id: linked (Plaid-like) or not (SimpleFIN-like)."""
        pid = data.draw(st.sampled_from(self.rows(pending=True)))
        pending = self.truth["transactions"].pop(pid)
        Transaction.objects.filter(account__connection=self.connection, provider_transaction_id=pid).update(
            notes=f"note on {pid}"
        )
        posted_day = (date.fromisoformat(pending["date"]) + timedelta(days=delay)).isoformat()
        tid = self.new_id("txn")
        self.truth["transactions"][tid] = pending | {"pending": False, "date": posted_day}
        if linked:
            self.truth["transactions"][tid]["replaces"] = pid
            self.notes[tid] = f"note on {pid}"
        self.sync()

    @precondition(lambda self: len(self.open_accounts()) > 1)
    @rule(data=st.data())
    def close_account(self, data):
        self.truth["accounts"][data.draw(st.sampled_from(self.open_accounts()))]["open"] = False
        self.sync()

    @precondition(lambda self: len(self.open_accounts()) < len(self.truth["accounts"]))
    @rule(data=st.data())
    def reopen_account(self, data):
        closed = sorted(set(self.truth["accounts"]) - set(self.open_accounts()))
        self.truth["accounts"][data.draw(st.sampled_from(closed))]["open"] = True
        self.sync()

    @invariant()
    def database_equals_truth(self):
        if not hasattr(self, "connection"):
            return
        db_accounts = Account.objects.filter(connection=self.connection)
        assert set(db_accounts.filter(is_active=True).values_list("provider_account_id", flat=True)) == set(
            self.open_accounts()
        )
        live = Transaction.objects.filter(
            account__connection=self.connection, is_removed=False, account__provider_account_id__in=self.open_accounts()
        )
        got = {
            t.provider_transaction_id: (
                t.account.provider_account_id,
                t.posted_date.isoformat(),
                t.amount,
                t.status,
                t.description,
            )
            for t in live.select_related("account")
        }
        want = {
            tid: (
                row["account"],
                row["date"],
                Decimal(row["amount"]),
                "pending" if row["pending"] else "posted",
                row["description"],
            )
            for tid, row in self.truth["transactions"].items()
            if row["account"] in self.open_accounts()
        }
        assert got == want
        everything = Transaction.objects.filter(account__connection=self.connection)
        assert everything.count() == everything.values("account", "provider_transaction_id").distinct().count()
        for tid, notes in self.notes.items():
            row = everything.filter(provider_transaction_id=tid).first()
            if row is not None and self.truth["accounts"][row.account.provider_account_id]["open"]:
                assert row.notes == notes and row.replaces is not None


@pytest.mark.slow
@pytest.mark.django_db
def test_random_histories_match_the_provider(capsys, register_provider):
    register_provider(ScriptedProvider)
    run_state_machine_as_test(
        BankHistory,
        settings=settings(
            max_examples=15,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    with capsys.disabled():
        print(f"\nhistories: {STATS['histories']}, steps: {STATS['steps']}, syncs: {STATS['syncs']}")
