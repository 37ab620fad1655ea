"""The service's progress callback: pages and rows as a sync runs, counts that add up."""

from __future__ import annotations

import pytest

from sync.progress import ProgressEvent
from sync.services.connection_sync import sync_connection

pytestmark = pytest.mark.django_db


def _sync(connection, user, **kwargs) -> tuple[list, list[ProgressEvent]]:
    events: list[ProgressEvent] = []
    outcomes = sync_connection(
        connection_id=connection.pk, user_id=user.pk, source="cli", progress=events.append, **kwargs
    )
    return outcomes, events


def test_plaid_pages_and_rows_add_up(user, plaid_fake, plaid_connection):
    plaid_fake.page_size = 2  # five transactions: three pages of /transactions/sync
    outcomes, events = _sync(plaid_connection, user)
    assert [o.as_dict()["status"] for o in outcomes] == ["succeeded"] * len(outcomes)
    by_kind: dict[str, list[ProgressEvent]] = {}
    for event in events:
        assert event.connection_id == plaid_connection.pk
        by_kind.setdefault(event.kind, []).append(event)
    assert set(by_kind) == {"accounts", "transactions", "holdings"}

    tx = by_kind["transactions"]
    fetches = [e for e in tx if e.stage == "fetch"]
    # One event per page, as it arrives, each adding its rows; then the apply, step by step.
    assert [e.pages for e in fetches] == list(range(1, len(fetches) + 1)) and len(fetches) >= 3
    assert all(e.rows_applied == 0 for e in fetches)
    assert tx.index(fetches[-1]) == len(fetches) - 1  # every page before any step
    applies = tx[len(fetches) :]
    assert applies and all(e.stage == "apply" for e in applies)
    assert [e.rows_applied for e in applies] == sorted(e.rows_applied for e in applies)
    result = next(o.result for o in outcomes if o.command == "transactions")
    assert fetches[-1].rows_fetched >= 5
    assert applies[-1].rows_applied == result.created + result.updated + result.unchanged
    assert applies[-1].rows_fetched == fetches[-1].rows_fetched and applies[-1].pages == fetches[-1].pages

    accounts = by_kind["accounts"]
    assert [(e.stage, e.pages, e.rows_fetched) for e in accounts] == [("fetch", 1, 3), ("apply", 1, 3)]
    assert accounts[-1].rows_applied == 3
    holdings = by_kind["holdings"]
    assert holdings[-1].rows_fetched == 3 and holdings[-1].rows_applied == 3
    assert {e.account_id for e in holdings} == {plaid_connection.accounts.get(provider_account_id="acc-inv").pk}

    # Again, by cursor: nothing new, no step to write; the sync still ends with an apply event.
    _, again = _sync(plaid_connection, user, kinds=("transactions",), force=True)
    assert again[-1].stage == "apply" and again[-1].rows_applied == again[-1].rows_fetched == 0


def test_demo_rows_fetched_are_rows_applied(user, demo_connection):
    # Without a callback the sync is the same; with one, the rows fetched are the rows applied.
    outcomes = sync_connection(connection_id=demo_connection.pk, user_id=user.pk, source="cli")
    assert all(not o.failed for o in outcomes)
    outcomes, events = _sync(demo_connection, user, force=True)
    tx = [e for e in events if e.kind == "transactions"]
    result = next(o.result for o in outcomes if o.command == "transactions")
    assert tx[-1].rows_applied == result.created + result.updated + result.unchanged == tx[-1].rows_fetched
