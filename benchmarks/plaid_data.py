"""The benchmark's rows served by the loopback Plaid fake (tests.fakes.plaid), built lazily.

The fake keeps an Item's transactions as an append-only event log and a cursor
is an offset into it. A log of 100,000 (or 1,000,000) full Transaction objects
would cost the benchmark's parent process gigabytes, so the Item here gets a
`LazyEvents` log: compact row tuples, turned into Plaid Transaction objects only
for the slice a `/transactions/sync` page serves. The wire format is the fake's
own (`tests.fakes.plaid.transaction`).

A real Plaid server builds its pages on its own machines; this fake builds them
on the same CPUs as the sync under test. So a page's rows are rendered straight
to JSON text (`RowRenderer`: the encoding of `transaction(...)` with the row's
values spliced in, byte for byte what `json.dumps` of the dict gives) rather than
built as dicts and encoded key by key. Every byte is still made per request and
sent over HTTP; the client parses and maps all of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from json import dumps
from json.encoder import encode_basestring_ascii  # what json.dumps uses for strings (ensure_ascii)
from operator import itemgetter

ACCESS_TOKEN = "access-bench-plaid"  # noqa: S105 - a loopback fake's made-up token
HOLDINGS_PER_ACCOUNT = 50


class LazyEvents:
    """An Item's event log of ("added" | "modified", row) built into Transaction objects when sliced.

    `row` is the benchmark's (account_id, transaction_id, day, amount, description, payee, pending) with
    FinSync's sign (positive = money in); Plaid's is the opposite.
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, tuple]] = []
        self._render = RowRenderer()

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: slice) -> list[tuple[str, object]]:
        """The events of `index` as ("added" | "modified", RawJSON of the Transaction object)."""
        render = self._render
        return [(kind, render(row)) for kind, row in self._events[index]]

    def add_rows(self, kind: str, rows: Iterable[tuple]) -> None:
        self._events.extend((kind, row) for row in rows)


class _Marked:
    """Stand-ins for a row's values in `transaction(...)`: marked text, a marked day and amount."""

    DAY = "\ue000day\ue000"
    AMOUNT = 1.2345678901234567e-300  # a float no Transaction object holds otherwise

    class Day:
        def isoformat(self) -> str:
            return _Marked.DAY

    class Amount:
        def __float__(self) -> float:
            return _Marked.AMOUNT


class RowRenderer:
    """A benchmark row as the JSON text of its Transaction object, without building the object.

    The template is `json.dumps(transaction(...))` called once with marked
    values; rendering a row puts the row's JSON-encoded values where the marks
    are. The constructor checks that every mark was found and that sample rows
    render exactly as `json.dumps(_transaction(row))`, so a change to
    `tests.fakes.plaid.transaction` cannot make the two differ silently.
    """

    FIELDS = ("transaction_id", "account_id", "name", "pending", "merchant_name")
    # What a row's values are, in the order `__call__` gives them.
    SLOTS = ("transaction_id", "account_id", "amount", "day", "name", "pending", "merchant_name")

    def __init__(self) -> None:
        from tests.fakes.plaid import RawJSON, transaction

        marks = {name: f"\ue000{name}\ue000" for name in self.FIELDS}
        text = dumps(
            transaction(
                marks["transaction_id"],
                marks["account_id"],
                _Marked.Amount(),
                _Marked.Day(),
                marks["name"],
                pending=marks["pending"],
                merchant_name=marks["merchant_name"],
            )
        )
        slots = {encode_basestring_ascii(mark): name for name, mark in marks.items()}
        slots[encode_basestring_ascii(_Marked.DAY)] = "day"
        slots[repr(_Marked.AMOUNT)] = "amount"
        pieces = re.split("(" + "|".join(re.escape(slot) for slot in slots) + ")", text)
        found = {slots[piece] for piece in pieces[1::2]}
        if found != set(slots.values()):
            raise RuntimeError(f"tests.fakes.plaid.transaction no longer shows {sorted(set(slots.values()) - found)}")
        # The text between the marks (even positions) and, for the marks (odd positions), which value goes there.
        self._pieces = pieces
        self._pick = itemgetter(*(self.SLOTS.index(slots[piece]) for piece in pieces[1::2]))
        self._raw = RawJSON
        self._days: dict[date, str] = {}
        for sample in _SAMPLES:
            if self(sample) != dumps(_transaction(sample)).encode():
                raise RuntimeError("RowRenderer and tests.fakes.plaid.transaction disagree")

    def __call__(self, row: tuple):
        """The row's Transaction object as RawJSON (the fake serves it as it is)."""
        account_id, transaction_id, day, amount, description, payee, pending = row
        encoded_day = self._days.get(day)
        if encoded_day is None:
            encoded_day = self._days[day] = encode_basestring_ascii(day.isoformat())
        values = (  # as SLOTS
            encode_basestring_ascii(f"{account_id}.{transaction_id}"),
            encode_basestring_ascii(account_id),
            repr(-float(amount)),  # json.dumps writes a float as its repr
            encoded_day,
            encode_basestring_ascii(description),
            "true" if pending else "false",
            encode_basestring_ascii(payee) if payee else "null",
        )
        pieces = self._pieces.copy()
        pieces[1::2] = self._pick(values)
        return self._raw("".join(pieces).encode())


_SAMPLES = (
    ("acct-000", "t-0000001", date(2026, 6, 14), "-12.50", "Card purchase 1", "Merchant 1", True),
    ("acct-001", "n1-000002", date(2025, 1, 31), "1500.00", 'Amended "100%" \u00e9', "", False),
    ("acct-002", "t-0000003", date(2024, 6, 15), "0.00", "Caf\u00e9 \u2603", "Shop", False),
)


def _transaction(row: tuple) -> dict:
    from tests.fakes.plaid import transaction

    account_id, transaction_id, day, amount, description, payee, pending = row
    # Plaid's transaction ids are unique across an Item; the benchmark's are per account.
    return transaction(
        f"{account_id}.{transaction_id}",
        account_id,
        -float(amount),
        day,
        description,
        pending=pending,
        merchant_name=payee or None,
    )


def _prepared_fake_class():
    from tests.fakes.plaid import PlaidFake, RawJSON, encode

    class PreparedPlaidFake(PlaidFake):
        """A PlaidFake that can encode the pages of a pass from the start ahead (`prepare`), not while the sync waits.

        A real Plaid builds its pages on its own machines; this fake would
        build each one (500 rows rendered, then the page encoded) on the same
        CPUs as the sync under test, while the sync waits for it: Plaid's
        cursor names the next page only in this one. Until `prepare` is called
        it answers exactly as PlaidFake does; after, the pages of a pass from
        the start of the Item's history are served as encoded then (the same
        bytes but the `request_id`); any other request is answered live.
        """

        def __init__(self) -> None:
            super().__init__()
            self._prepared: dict[tuple[str, int], RawJSON] = {}

        def prepare(self, count: int = 500) -> None:
            """(Re)encode the pages of `count` rows from the start; call it after every change to the data."""
            self._prepared.clear()
            item, cursor = self.items[ACCESS_TOKEN], ""
            while True:
                status, body = super()._sync(item, {"count": count, **({"cursor": cursor} if cursor else {})})
                if status != 200:
                    return
                self._prepared[(cursor, count)] = RawJSON(encode(body))
                if not body["has_more"]:
                    return
                cursor = body["next_cursor"]

        def _sync(self, item, body):
            page = self._prepared.get((body.get("cursor") or "", body.get("count", 100)))
            return (200, page) if page is not None and item.access_token == ACCESS_TOKEN else super()._sync(item, body)

    return PreparedPlaidFake


def build_fake(n_accounts: int, account_ids: list[str], rows: Iterable[tuple]):
    """A PlaidFake with one Item: the accounts (every fifth a brokerage with holdings) and the rows as added."""
    from tests.fakes.plaid import security

    fake = _prepared_fake_class()()
    item = fake.add_item(ACCESS_TOKEN)
    item.events = LazyEvents()
    securities = [security(f"sec-{h:03d}", f"Fund {h}", f"F{h:03d}", "mutual fund", 120.5 + h) for h in range(50)]
    for index, account_id in enumerate(account_ids[:n_accounts]):
        if index % 5 == 0:
            item.add_account(account_id, f"Account {index}", type="investment", subtype="brokerage", current=1000.0)
            for h, held in enumerate(securities[:HOLDINGS_PER_ACCOUNT]):
                item.add_holding(account_id, held, quantity=10 + h, price=held["close_price"], cost_basis=1000 + h)
        else:
            item.add_account(account_id, f"Account {index}", current=1000.0, available=1000.0)
    item.events.add_rows("added", rows)
    return fake


def add_changes(fake, rows: Iterable[tuple]) -> None:
    """Append a round of changes: rows with a known id as modified, the others as added."""
    events = fake.items[ACCESS_TOKEN].events
    modified, added = [], []
    for row in rows:
        (added if row[1].startswith("n") else modified).append(row)
    events.add_rows("modified", modified)
    events.add_rows("added", added)
