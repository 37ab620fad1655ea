"""The transactions spool: page order, removals across pages, and `restart` (no database needed)."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from providers.base import AccountData, RemovedTransaction, TransactionData, TransactionsResult
from sync.apply.normalize import TRANSACTION_SYNCED_FIELDS
from sync.apply.spool import spool_transactions
from sync.errors import ProviderBadResponse

AMOUNT = TRANSACTION_SYNCED_FIELDS.index("amount")
CURRENCY = TRANSACTION_SYNCED_FIELDS.index("currency")


def _tx(transaction_id: str, amount: str, account_id: str = "a") -> TransactionData:
    return TransactionData(
        provider_transaction_id=transaction_id,
        provider_account_id=account_id,
        posted_date=date(2026, 6, 1),
        amount=Decimal(amount),
    )


def _gone(transaction_id: str, account_id: str = "a") -> RemovedTransaction:
    return RemovedTransaction(provider_account_id=account_id, provider_transaction_id=transaction_id)


def _spooled(spool, account_id: str = "a") -> list[tuple[str, Decimal]]:
    return [(provider_id, values[AMOUNT]) for provider_id, values, _, _ in spool.rows(account_id)]


def test_restart_discards_everything_spooled_before_it():
    pages = [
        TransactionsResult(
            transactions=[_tx("t1", "1"), _tx("t2", "2", "b")],
            removed=[_gone("old")],
            accounts=[AccountData(provider_account_id="b", name="Stale")],
            next_cursor="abandoned",
            warnings=["from the abandoned pass"],
        ),
        TransactionsResult(transactions=[_tx("t1", "10")], next_cursor="c1", restart=True),
        TransactionsResult(transactions=[_tx("t3", "3")], removed=[_gone("t9")], next_cursor="c2"),
    ]
    spool = spool_transactions(pages)
    try:
        assert _spooled(spool) == [("t1", Decimal(10)), ("t3", Decimal(3))]
        assert spool.account_ids() == {"a"}
        assert dict(spool.removed) == {"a": ["t9"]}
        assert (spool.accounts, spool.warnings, spool.next_cursor) == ({}, [], "c2")
    finally:
        spool.close()


def test_removals_follow_page_order():
    pages = [
        TransactionsResult(transactions=[_tx("t1", "1"), _tx("t2", "2"), _tx("same", "5")], removed=[_gone("back")]),
        # t1 removed on a later page; `same` added and removed on one page; `back` returns.
        TransactionsResult(transactions=[_tx("same", "6"), _tx("back", "4")], removed=[_gone("t1"), _gone("same")]),
        TransactionsResult(transactions=[_tx("t1-other", "1", "b")], removed=[_gone("t1")]),
    ]
    spool = spool_transactions(pages)
    try:
        assert _spooled(spool) == [("t2", Decimal(2)), ("back", Decimal(4))]
        assert _spooled(spool, "b") == [("t1-other", Decimal(1))]
        assert {k: sorted(v) for k, v in spool.removed.items() if v} == {"a": ["same", "t1"]}
    finally:
        spool.close()


def test_a_failing_stream_closes_the_spool():
    def pages():
        yield TransactionsResult(transactions=[_tx("t1", "1"), _tx("t2", "2", "b")])
        raise RuntimeError("the provider went away")

    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match="went away"):
        spool_transactions(pages())
    assert len(os.listdir("/proc/self/fd")) == open_before  # both accounts' spool files are closed


def test_currency_codes_are_stored_by_the_providers_rule():
    """The apply reads a currency as the adapters do (payload.iso_currency); what is not a code is refused, named."""
    spool = spool_transactions([TransactionsResult(transactions=[replace(_tx("t1", "1"), currency=" eur ")])])
    try:
        assert [values[CURRENCY] for _, values, _, _ in spool.rows("a")] == ["EUR"]
    finally:
        spool.close()
    for code in ("EURO", "", None, 840):
        with pytest.raises(ProviderBadResponse, match="transaction t2 has an invalid currency code"):
            spool_transactions([TransactionsResult(transactions=[replace(_tx("t2", "1"), currency=code)])])
