"""The benchmark's rows served by the loopback Plaid fake (tests.fakes.plaid), built lazily.

The fake keeps an Item's transactions as an append-only event log and a cursor
is an offset into it. A log of 100,000 (or 1,000,000) full Transaction objects
would cost the benchmark's parent process gigabytes, so the Item here gets a
`LazyEvents` log: compact row tuples, turned into Plaid Transaction objects only
for the slice a `/transactions/sync` page serves. The wire format is the fake's
own (`tests.fakes.plaid.transaction`).
"""

from __future__ import annotations

from collections.abc import Iterable

ACCESS_TOKEN = "access-bench-plaid"  # noqa: S105 - a loopback fake's made-up token
HOLDINGS_PER_ACCOUNT = 50


class LazyEvents:
    """An Item's event log of ("added" | "modified", row) built into Transaction objects when sliced.

    `row` is the benchmark's (account_id, transaction_id, day, amount, description, payee, pending) with
    FinSync's sign (positive = money in); Plaid's is the opposite.
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, tuple]] = []

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: slice) -> list[tuple[str, dict]]:
        return [(kind, _transaction(row)) for kind, row in self._events[index]]

    def add_rows(self, kind: str, rows: Iterable[tuple]) -> None:
        self._events.extend((kind, row) for row in rows)


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


def build_fake(n_accounts: int, account_ids: list[str], rows: Iterable[tuple]):
    """A PlaidFake with one Item: the accounts (every fifth a brokerage with holdings) and the rows as added."""
    from tests.fakes.plaid import PlaidFake, security

    fake = PlaidFake()
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
