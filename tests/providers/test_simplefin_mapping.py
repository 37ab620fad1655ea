"""SimpleFIN row mapping: the short path equals the careful reader, and what makes a span."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.base import AccountData
from providers.errors import ProviderBadResponse
from providers.simplefin import SimpleFINProvider
from providers.simplefin_rows import epoch, fast_transaction, read_frame, row_ids, span_digest, spannable

ACCOUNT = AccountData(provider_account_id="acct-1", name="Checking", currency="USD")
TODAY = date(2026, 6, 15)
FIRST, LAST = date(2026, 5, 7), date(2026, 7, 5)
NOON = epoch(date(2026, 6, 1)) + 12 * 3600

# Values each field may take: the usual ones (drawn most of the time) and the odd ones a server might send.
FIELDS = {
    "id": (st.sampled_from(["t-1", "t-2"]), st.one_of(st.sampled_from([" t-2", "t-3 ", "", "  "]), st.integers(-5, 5))),
    "posted": (
        st.sampled_from([0, NOON, NOON + 86400 * 40]),
        st.sampled_from([-1, 10**11, "1780000000", "x", 1.5, None, True]),
    ),
    "amount": (
        st.sampled_from(["-12.50", "0", "1e3", " 3,200.00 ", "1_000"]),
        st.one_of(
            st.sampled_from(["NaN", "Infinity", "abc", "", None, True]),
            st.integers(-10, 10),
            st.decimals(allow_nan=True, allow_infinity=True, places=2),
        ),
    ),
    "description": (st.sampled_from(["Cafe", "", None]), st.integers(0, 2)),
    "transacted_at": (st.sampled_from([None, 0, NOON]), st.sampled_from([-1, "1780000000", 1.5, False])),
    "pending": (st.sampled_from([None, False, True]), st.sampled_from(["yes", 1])),
    "payee": (st.sampled_from(["Blue", "", None]), st.integers(0, 2)),
    "extra": (st.sampled_from([None, {"category": "Food"}]), st.sampled_from([{"category": 7}, "x", {}])),
}


@st.composite
def raw_rows(draw):
    row = {}
    for name, (usual, odd) in FIELDS.items():
        roll = draw(st.integers(0, 19))
        if roll == 0:
            continue  # absent
        row[name] = draw(odd if roll == 1 else usual)
    return row


def careful(raw):
    try:
        return SimpleFINProvider._transaction(raw, "accounts[0].transactions[0]", ACCOUNT, TODAY)
    except ProviderBadResponse as error:
        return error


@settings(max_examples=600, deadline=None)
@given(raw_rows())
def test_short_path_maps_like_the_careful_reader_or_steps_aside(raw):
    fast = fast_transaction(raw, ACCOUNT, TODAY)
    if fast is not None:
        assert fast == careful(raw)


def test_short_path_takes_the_usual_row():
    raw = {"id": "t-1", "posted": NOON, "amount": "-12.50", "description": "Cafe", "payee": "Blue", "pending": False}
    data = fast_transaction(raw, ACCOUNT, TODAY)
    assert data == careful(raw)
    assert (data.amount, data.posted_date, data.pending, data.currency) == (
        Decimal("-12.50"),
        date(2026, 6, 1),
        False,
        "USD",
    )
    pending = fast_transaction(
        {"id": "p", "posted": 0, "amount": "1", "description": None, "transacted_at": NOON}, ACCOUNT, TODAY
    )
    assert pending.pending and pending.posted_date == date(2026, 6, 1)
    assert pending.transacted_at == datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"amount": "abc"}, "accounts[0].transactions[0].amount: not a number"),
        ({"posted": "soon"}, "accounts[0].transactions[0].posted: not a number"),
        ({"id": ""}, "accounts[0].transactions[0].id: empty"),
        ({"pending": "yes"}, "accounts[0].transactions[0].pending: not true or false"),
    ],
)
def test_odd_rows_go_to_the_careful_reader_which_names_the_field(change, problem):
    raw = {"id": "t-1", "posted": NOON, "amount": "-1.00", "description": "x"} | change
    assert fast_transaction(raw, ACCOUNT, TODAY) is None
    assert str(careful(raw)) == problem


# --- spans and frames ----------------------------------------------------------------------


def rows(*overrides):
    return [
        {"id": f"t-{i}", "posted": NOON + i * 86400, "amount": "-1.00", "description": "x"} | o
        for i, o in enumerate(overrides)
    ]


def raw(value) -> msgspec.Raw:
    return msgspec.Raw(json.dumps(value).encode())


def digest(value, account=ACCOUNT, first=FIRST, last=LAST) -> str:
    return span_digest(raw(value), account, first, last)


def test_rows_dated_inside_make_a_span_whose_digest_follows_the_bytes():
    assert spannable(rows({}, {}), FIRST, LAST)
    assert spannable([], FIRST, LAST)  # no rows is a span too
    same = digest(rows({}, {}))
    assert digest(rows({}, {})) == same  # deterministic
    assert digest(rows({}, {"amount": "-1.01"})) != same
    assert digest(rows({}, {"memo": "new"})) != same  # any field counts
    euro = AccountData(provider_account_id="acct-1", name="Checking", currency="EUR")
    assert digest(rows({}, {}), account=euro) != same  # rows take the account's currency
    assert digest(rows({}, {}), first=date(2026, 5, 8)) != same


@pytest.mark.parametrize(
    "odd",
    [
        {"id": 7},  # numeric id: mapped as "7"
        {"id": " t-9"},  # blanks around the id
        {"id": "t-0"},  # the same id twice
        {"posted": str(NOON)},  # epoch as a string
        {"posted": epoch(LAST) + 86400},  # dated after the span
        {"posted": epoch(FIRST) - 1},  # dated before it
        {"posted": 0, "pending": True},  # pending without any date: dated "today"
        {"posted": 0, "transacted_at": "x"},
        {"pending": "yes"},
    ],
)
def test_anything_unusual_makes_no_span(odd):
    assert not spannable(rows({}, odd), FIRST, LAST)


def test_a_pending_row_is_dated_by_when_it_happened():
    assert spannable(rows({}, {"posted": 0, "pending": True, "transacted_at": NOON}), FIRST, LAST)
    assert not spannable(rows({}, {"posted": 0, "pending": True, "transacted_at": epoch(FIRST) - 3600}), FIRST, LAST)


def test_an_answer_is_framed_with_each_accounts_rows_left_raw():
    body = {
        "errors": ["Bank X is slow"],
        "accounts": [
            {
                "id": "a",
                "name": "A",
                "currency": "USD",
                "balance": 1.5,
                "balance-date": 1,
                "org": {},
                "transactions": rows({}),
            },
            {"id": "b", "name": "B", "available-balance": "2", "holdings": []},
            {"id": "c", "transactions": None},
        ],
    }
    warnings, accounts = read_frame(json.dumps(body).encode())
    assert warnings == {"errors": ["Bank X is slow"]}
    assert accounts[0].fields == {
        "id": "a",
        "name": "A",
        "currency": "USD",
        "balance": Decimal("1.5"),
        "balance-date": 1,
    }
    assert json.loads(bytes(accounts[0].rows)) == rows({})
    assert accounts[1].fields == {"id": "b", "name": "B", "available-balance": "2", "holdings": []}
    assert row_ids(accounts[1].rows) == [] and row_ids(accounts[2].rows) == []
    assert row_ids(accounts[0].rows) == ["t-0"]
    assert row_ids(raw([{"id": 7}])) is None  # not a string id: the rows are parsed instead


@pytest.mark.parametrize(
    "document",
    [
        b"[]",
        b'{"errors": []}',
        b'{"accounts": {}}',
        b'{"accounts": [1]}',
        b'{"accounts": [], "x": NaN}',
        b"{",
        b'"\xff"',
    ],
)
def test_what_cannot_be_framed_goes_to_the_careful_path(document):
    assert read_frame(document) is None
