"""The demo's balances: the same figures as walking the whole history, without walking it per request."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from providers import demo
from providers.demo import DemoProvider

CREDENTIALS = {"token": "demo-test"}


def _walked_balance(provider: DemoProvider, account_id: str) -> Decimal:
    """What the balance was before: opening + every posted amount from the history's start, walked day by day."""
    opening = provider._account(account_id).balance - provider._posted_flow(account_id, provider.as_of)
    flow = sum(
        (t.amount for t in provider._transactions(account_id, provider.history_start, provider.as_of) if not t.pending),
        Decimal(0),
    )
    return opening + flow


@pytest.mark.parametrize(
    ("seed", "per_account", "history_days", "as_of"),
    [
        (42, 90, 120, "2026-06-15"),
        (7, 2000, 400, "2026-03-01"),
        (99, 5, 3, "2026-01-02"),  # history shorter than the pending days
        (1, 365, 365, "2026-12-31"),
    ],
)
def test_balance_equals_the_walked_history(seed, per_account, history_days, as_of):
    start = (date.fromisoformat(as_of) - timedelta(days=history_days - 1)).isoformat()
    config = {
        "seed": seed,
        "accounts": 4,
        "transactions_per_account": per_account,
        "history_days": history_days,
        "history_start": start,
        "as_of": as_of,
    }
    provider = DemoProvider(credentials=CREDENTIALS, config=config)
    for account_id in provider._account_ids():
        if provider._kind(account_id)[0] == "investment":
            continue  # its balance is the holdings' value
        assert provider._account(account_id).balance == _walked_balance(provider, account_id)


def test_each_day_later_the_balance_follows_the_transactions():
    """Days pass: the balance moves by exactly what posted, as the settled blocks grow."""
    config = {"seed": 3, "accounts": 1, "transactions_per_account": 300, "history_days": 100}
    first = date(2026, 5, 1)
    config["history_start"] = (first - timedelta(days=99)).isoformat()
    for offset in range(0, 40, 3):
        as_of = (first + timedelta(days=offset)).isoformat()
        provider = DemoProvider(credentials=CREDENTIALS, config=config | {"as_of": as_of})
        assert provider._account("demo-acct-0001").balance == _walked_balance(provider, "demo-acct-0001")


def test_a_repeated_request_generates_only_the_unsettled_days(monkeypatch):
    config = {
        "seed": 5,
        "accounts": 1,
        "transactions_per_account": 20_000,
        "history_days": 3650,
        "history_start": "2017-01-01",
        "as_of": "2026-12-01",
    }
    provider = DemoProvider(credentials=CREDENTIALS, config=config)
    provider.fetch_accounts()  # the settled blocks are summed once per process

    days: list[date] = []
    original = DemoProvider._occurrences

    def counting(self, account_id, first, last):
        for occurrence in original(self, account_id, first, last):
            days.append(occurrence[0])
            yield occurrence

    monkeypatch.setattr(DemoProvider, "_occurrences", counting)
    provider.fetch_accounts()
    assert days, "the unsettled days are still generated"
    assert min(days) >= date(2026, 12, 1) - timedelta(days=demo.PENDING_DAYS)
