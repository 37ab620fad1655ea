"""Alpaca adapter driven through the real handlers, connect service, CLI, API and admin, over loopback."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from providers.http import parse_rate_limit_reset
from sync import errors
from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
from sync.models import Account, BalanceSnapshot, Connection, Holding, Transaction
from sync.services.connection_sync import sync_connection
from sync.services.connections import create_connection
from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions
from tests.factories import DEMO_TODAY
from tests.fakes.alpaca import AlpacaFake, alpaca_error, rate_limited
from tests.providers.conftest import build_alpaca_account
from tests.providers.helpers import last_run
from tests.sync.helpers import data_snapshot

MAY = {"start_date": date(2026, 5, 1), "end_date": date(2026, 6, 15)}


def _sync_transactions(connection, user, **window):
    return sync_transactions(
        SyncTransactions(connection_id=connection.pk, user_id=user.pk, force=True, **(window or MAY)), source="cli"
    )


def _sync_accounts(connection, user):
    return sync_accounts(SyncAccounts(connection_id=connection.pk, user_id=user.pk, force=True), source="cli")


def _sync_holdings(user):
    account = Account.objects.get()
    return sync_holdings(SyncHoldings(account_id=account.pk, user_id=user.pk, force=True), source="cli")


def _row(**filters) -> Transaction:
    return Transaction.objects.get(**filters)


def _investment(t: Transaction) -> tuple:
    return (t.activity_type, t.symbol, t.quantity, t.price, t.amount, t.posted_date)


# --- mapping -----------------------------------------------------------------------


def test_account_holdings_and_every_activity_mapping(alpaca_connection, user, alpaca_fake):
    outcomes = sync_connection(connection_id=alpaca_connection.pk, user_id=user.pk, force=True, source="cli")
    assert [o.command for o in outcomes] == ["accounts", "transactions", "holdings"]
    assert not any(o.failed for o in outcomes)
    account = Account.objects.get()
    assert (account.provider_account_id, account.type, account.subtype, account.mask) == (
        "e6fe16f3-64a4-4921-8928-cadf02f92f98",
        "investment",
        "brokerage",
        "3ABC",
    )
    assert (account.balance, account.available_balance, account.currency) == (
        Decimal("10412.77"),
        Decimal("1523.40"),
        "USD",
    )
    assert account.balance_date == datetime(2026, 6, 12, tzinfo=UTC)
    assert "PA3XYZ123ABC" not in repr(list(Account.objects.values())) + repr(list(Connection.objects.values()))
    assert Connection.objects.get().config == {"environment": "paper"}

    _sync_transactions(alpaca_connection, user)
    buys = Transaction.objects.filter(symbol="AAPL", activity_type="buy").order_by("transacted_at")
    assert [_investment(t) for t in buys] == [
        ("buy", "AAPL", Decimal(3), Decimal("171.02"), Decimal("-513.06"), date(2026, 5, 4)),
        ("buy", "AAPL", Decimal(7), Decimal("171.05"), Decimal("-1197.35"), date(2026, 5, 4)),
    ]
    assert "partial fill" in buys[0].description and buys[0].fees is None
    sale = _row(symbol="AAPL", activity_type="sell")
    assert _investment(sale) == ("sell", "AAPL", Decimal(-2), Decimal("180.10"), Decimal("360.20"), date(2026, 5, 11))
    short = _row(symbol="SLM")
    assert _investment(short) == ("sell", "SLM", Decimal(-100), Decimal("8.36"), Decimal("836.00"), date(2026, 5, 12))
    # -(1 x 0.00025) = -0.00025 is quantized half-even to the amount column's 4 places: -0.0002.
    assert _row(symbol="TINY").amount == Decimal("-0.0002")
    # Traded at 21:30 in New York on June 12 (01:30 UTC on June 13): booked on the trading day.
    late = _row(symbol="MSFT")
    assert (late.posted_date, late.transacted_at) == (date(2026, 6, 12), datetime(2026, 6, 13, 1, 30, tzinfo=UTC))

    by_kind = {t.provider_category: t for t in Transaction.objects.exclude(provider_category="")}
    expected = {
        "CSD": ("deposit", None, Decimal("1000.00")),
        "DIV": ("dividend", "AAPL", Decimal("2.40")),
        "DIVCGL": ("dividend", "VTI", Decimal("1.10")),
        "INT": ("interest", None, Decimal("0.35")),
        "FEE": ("fee", None, Decimal("-0.02")),
        "CFEE": ("fee", None, Decimal("-1.00")),
        "CSW": ("withdrawal", None, Decimal("-200.00")),
        "JNLC": ("transfer", None, Decimal("50.00")),
        "JNLS": ("transfer", "AAPL", Decimal(0)),
        "SPLIT": ("split", "NVDA", Decimal(0)),
        "WH": ("tax", None, Decimal("-0.36")),
        "MYSTERY": ("other", None, Decimal("-3.00")),
    }
    assert {k: (t.activity_type, t.symbol, t.amount) for k, t in by_kind.items()} == expected
    assert by_kind["DIV"].quantity is None and by_kind["DIV"].price == Decimal("0.24")  # qty held is not units moved
    assert by_kind["SPLIT"].quantity == Decimal(9)
    assert by_kind["FEE"].posted_date == date(2026, 5, 4)  # its date, not its creation (May 5)
    assert not Transaction.objects.filter(description="FEE charged in error").exists()  # canceled: never stored
    assert Transaction.objects.count() == 6 + 12

    _sync_holdings(user)
    holdings = {h.symbol: h for h in Holding.objects.all()}
    assert (holdings["AAPL"].quantity, holdings["AAPL"].price, holdings["AAPL"].cost_basis) == (
        Decimal(8),
        Decimal("186.75"),
        Decimal("1368.28"),
    )
    assert (holdings["SLM"].quantity, holdings["SLM"].market_value, holdings["SLM"].cost_basis) == (
        Decimal(-100),
        Decimal("-891.00"),
        Decimal("-836.00"),
    )


def test_short_side_means_negative_whatever_the_sign_of_qty(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    alpaca_fake.positions[1]["qty"] = "100"  # sent as a magnitude this time
    alpaca_fake.position("TSLA", "5", side="short")
    _sync_holdings(user)
    assert dict(Holding.objects.values_list("symbol", "quantity")) == {
        "AAPL": Decimal(8),
        "SLM": Decimal(-100),
        "TSLA": Decimal(-5),
    }
    alpaca_fake.positions[:] = alpaca_fake.positions[:1]  # SLM and TSLA covered
    result = _sync_holdings(user)
    assert result.removed == 2
    assert set(Holding.objects.filter(is_active=True).values_list("symbol", flat=True)) == {"AAPL"}


def test_canceled_activity_is_soft_removed(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    _sync_transactions(alpaca_connection, user)
    interest = next(a for a in alpaca_fake.activities if a.wire["activity_type"] == "INT")
    alpaca_fake.cancel(interest)
    result = _sync_transactions(alpaca_connection, user)
    assert (result.created, result.updated, result.removed) == (0, 0, 1)
    row = _row(provider_transaction_id=interest.id)
    assert row.is_removed and row.removed_at is not None


def test_unchanged_resync_writes_nothing(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    _sync_transactions(alpaca_connection, user)
    _sync_holdings(user)
    before = data_snapshot()
    stamps = dict(Transaction.objects.values_list("pk", "updated_at"))
    assert (_sync_accounts(alpaca_connection, user).updated, _sync_holdings(user).updated) == (0, 0)
    result = _sync_transactions(alpaca_connection, user)
    assert (result.created, result.updated, result.removed) == (0, 0, 0)
    after = data_snapshot()
    # Only the sync times move (the connection's and the account's *_synced_at).
    assert [after[k] for k in ("Transaction", "Holding", "BalanceSnapshot")] == [
        before[k] for k in ("Transaction", "Holding", "BalanceSnapshot")
    ]
    assert dict(Transaction.objects.values_list("pk", "updated_at")) == stamps
    assert BalanceSnapshot.objects.count() == 1  # Alpaca's balance date, not the sync's time


# --- pagination --------------------------------------------------------------------


def add_history(fake: AlpacaFake, count: int, first: date = date(2026, 1, 2), days: int = 170) -> None:
    """`count` fills and `count` non-trade activities spread over `days` days from `first`."""
    kinds = ["DIV", "INT", "FEE", "CSD", "CSW", "JNLC", "DIVNRA", "ACATC"]
    for n in range(count):
        day = first + timedelta(days=n * days // count)
        moment = datetime(day.year, day.month, day.day, 14, 30, tzinfo=UTC) + timedelta(seconds=n)
        side = ("buy", "sell", "sell_short")[n % 3]
        fake.fill(f"S{n % 17}", side, qty=str(n % 9 + 1), price=f"{10 + n % 50}.{n % 100:02d}", at=moment)
        kind = kinds[n % len(kinds)]
        amount = f"{'-' if kind in ('FEE', 'CSW') else ''}{n % 40 + 1}.{n % 100:02d}"
        fake.non_trade(kind, day, amount, description=f"{kind} {n}")


def _expected_ids(fake: AlpacaFake, start: date, end: date) -> set[str]:
    """What the provider holds dated within [start, end] (by the rules the adapter documents), canceled aside."""
    from zoneinfo import ZoneInfo

    ids = set()
    for activity in fake.activities:
        wire = activity.wire
        if wire.get("status") == "canceled":
            continue
        if wire["activity_type"] == "FILL":
            when = datetime.fromisoformat(wire["transaction_time"].replace("Z", "+00:00"))
            day = when.astimezone(ZoneInfo("America/New_York")).date()
        else:
            day = date.fromisoformat(wire["date"])
        if start <= day <= end:
            ids.add(activity.id)
    return ids


def test_every_page_of_both_categories_once(alpaca_connection, user, alpaca_fake):
    add_history(alpaca_fake, 560)  # with the account's own rows: 6 pages of trades, 6 of the rest
    # Rows beyond the window: dated after it, or created long after `until`.
    alpaca_fake.fill("LATE", "buy", qty="1", price="1.00", at=datetime(2026, 7, 20, 15, tzinfo=UTC))
    alpaca_fake.non_trade("DIV", date(2026, 7, 20), "9.99", symbol="LATE")
    window = {"start_date": date(2026, 1, 1), "end_date": date(2026, 6, 30)}
    _sync_accounts(alpaca_connection, user)
    result = _sync_transactions(alpaca_connection, user, **window)

    expected = _expected_ids(alpaca_fake, window["start_date"], window["end_date"])
    stored = list(Transaction.objects.values_list("provider_transaction_id", flat=True))
    assert len(stored) == len(set(stored)) == len(expected) == result.created
    assert set(stored) == expected
    assert not Transaction.objects.filter(posted_date__gt=window["end_date"]).exists()
    assert not Transaction.objects.filter(symbol="LATE").exists()

    requests = alpaca_fake.activity_requests()
    for category in ("trade_activity", "non_trade_activity"):
        pages = [r for r in requests if r.params("category") == [category]]
        assert len(pages) >= 7  # at least 6 pages of rows, then the empty page that ends the loop
        for request in pages:
            assert request.params("direction") == ["asc"] and request.params("page_size") == ["100"]
            assert request.params("after") == ["2025-12-25"] and request.params("until") == ["2026-07-07"]
        assert pages[0].params("page_token") == []
        tokens = [r.params("page_token")[0] for r in pages[1:]]
        assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
        assert all(r.headers["Apca-Api-Key-Id"] == alpaca_fake.key_id for r in pages)


def test_overlapping_window_refetch_changes_nothing(alpaca_connection, user, alpaca_fake):
    add_history(alpaca_fake, 500)
    _sync_accounts(alpaca_connection, user)
    first = _sync_transactions(alpaca_connection, user, start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
    assert first.created > 0
    march = dict(
        Transaction.objects.filter(posted_date__gte=date(2026, 3, 1)).values_list("provider_transaction_id", "amount")
    )
    stamps = dict(Transaction.objects.values_list("pk", "updated_at"))
    second = _sync_transactions(alpaca_connection, user, start_date=date(2026, 3, 1), end_date=date(2026, 6, 30))
    assert second.updated == 0 and second.removed == 0
    assert second.unchanged == len(march)  # the overlap came again, as stored
    assert all(Transaction.objects.get(pk=pk).updated_at == at for pk, at in stamps.items())
    before = data_snapshot()
    again = _sync_transactions(alpaca_connection, user, start_date=date(2026, 3, 1), end_date=date(2026, 6, 30))
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    assert data_snapshot()["Transaction"] == before["Transaction"]


# --- errors ------------------------------------------------------------------------


def test_wrong_keys_at_connect_name_the_environment(user, alpaca_fake, alpaca_server):
    for environment in ("paper", "live"):
        with pytest.raises(errors.ValidationError) as caught:
            create_connection(
                owner=user,
                provider="alpaca",
                options={"api_key_id": alpaca_fake.key_id, "api_secret_key": "wrong", "environment": environment},
                actor=user,
                source="cli",
            )
        assert f"Alpaca ({environment}) did not accept" in caught.value.message
        assert alpaca_fake.key_id not in caught.value.message
    with pytest.raises(errors.ValidationError, match="paper or live"):
        create_connection(
            owner=user,
            provider="alpaca",
            options={"api_key_id": "k", "api_secret_key": "s", "environment": "sandbox"},
            actor=user,
            source="cli",
        )
    with pytest.raises(errors.ValidationError, match="secret key"):
        create_connection(
            owner=user, provider="alpaca", options={"api_key_id": "k", "api_secret_key": " "}, actor=user, source="cli"
        )
    assert not Connection.objects.exists()


def test_revoked_keys_need_reauthentication(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    alpaca_fake.secret_key = "regenerated"
    with pytest.raises(errors.ReauthRequired, match=r"Alpaca \(paper\)"):
        _sync_transactions(alpaca_connection, user)
    assert Connection.objects.get().status == "needs_reauth"
    assert last_run("transactions").reason_code == "reauth_required"


def test_rate_limit_reads_the_reset_epoch(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    alpaca_fake.fail_next(rate_limited(reset_in=40), path="/v2/account/activities")
    with pytest.raises(errors.ProviderRateLimited) as caught:
        _sync_transactions(alpaca_connection, user)
    assert 38 <= caught.value.retry_after <= 40
    assert parse_rate_limit_reset(str(int(time.time()) + 10), now=time.time()) in (10, 11)
    assert parse_rate_limit_reset("soon") is None


def test_server_errors_are_retried(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    alpaca_fake.fail_next(path="/v2/account/activities", status=503, times=2)
    assert _sync_transactions(alpaca_connection, user).created == 18


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("price", "abc", "trade_activity page 1[0].price: not a number"),
        ("side", "hold", "trade_activity page 1[0].side: not buy, sell or sell_short"),
        ("transaction_time", 5, "trade_activity page 1[0].transaction_time: not a timestamp"),
    ],
)
def test_malformed_row_names_the_field(alpaca_connection, user, alpaca_fake, field, value, named):
    _sync_accounts(alpaca_connection, user)
    first_fill = min((a for a in alpaca_fake.activities if a.category == "trade_activity"), key=lambda a: a.id)
    first_fill.wire[field] = value
    before = data_snapshot()
    with pytest.raises(errors.ProviderBadResponse) as caught:
        _sync_transactions(alpaca_connection, user)
    assert named in caught.value.message
    assert data_snapshot() == before


def test_unprocessable_request_is_reported(alpaca_connection, user, alpaca_fake):
    _sync_accounts(alpaca_connection, user)
    alpaca_fake.fail_next(alpaca_error(422, 40010001, "invalid activity type: FFFFF"), path="/v2/account/activities")
    with pytest.raises(errors.ProviderUnavailable, match="HTTP 422: invalid activity type"):
        _sync_transactions(alpaca_connection, user)


# --- interfaces --------------------------------------------------------------------


def test_cli_connect_reads_secrets_from_stdin(user, alpaca_fake, alpaca_server, capsys):
    call_command(
        "connect",
        "alpaca",
        "--user",
        "alice",
        "--api-key-id",
        "-",
        "--api-secret-key",
        "-",
        stdin=io.StringIO(f"{alpaca_fake.key_id}\n{alpaca_fake.secret_key}\n"),
    )
    connection = Connection.objects.get(pk=capsys.readouterr().out.strip())
    assert (connection.provider, connection.config) == ("alpaca", {"environment": "paper"})
    call_command(
        "connect",
        "alpaca",
        "--user",
        "alice",
        "--api-key-id",
        alpaca_fake.key_id,
        "--api-secret-key",
        "-",
        "--environment",
        "live",
        stdin=io.StringIO(alpaca_fake.secret_key + "\n"),
    )
    assert Connection.objects.filter(config={"environment": "live"}).count() == 1
    with pytest.raises(CommandError) as caught:
        call_command(
            "connect", "alpaca", "--user", "alice", "--api-key-id", "-", "--api-secret-key", "-", stdin=io.StringIO("")
        )
    assert "standard input has no line" in str(caught.value) and caught.value.returncode == 2
    with pytest.raises(CommandError) as caught:
        call_command(
            "connect",
            "alpaca",
            "--user",
            "alice",
            "--api-key-id",
            alpaca_fake.key_id,
            "--api-secret-key",
            alpaca_fake.secret_key,
            "--environment",
            "demo",
        )
    assert caught.value.returncode == 2 and "paper or live" in str(caught.value)


def test_cli_stdin_for_simplefin_and_plaid(user, simplefin_fake, simplefin_server, plaid_fake, plaid_server, capsys):
    access_url = simplefin_fake.access_url(simplefin_server.url)
    call_command("connect", "simplefin", "--user", "alice", "--access-url", "-", stdin=io.StringIO(access_url + "\n"))
    from tests.providers.conftest import PLAID_TOKEN

    call_command("connect", "plaid", "--user", "alice", "--access-token", "-", stdin=io.StringIO(PLAID_TOKEN))
    assert sorted(Connection.objects.values_list("provider", flat=True)) == ["plaid", "simplefin"]


def test_cli_help_says_secrets_read_from_stdin(capsys):
    from sync.management.commands.connect import Command

    help_text = " ".join(Command().create_parser("manage.py", "connect").format_help().split())
    for option in (
        "--api-key-id",
        "--api-secret-key",
        "--access-url",
        "--setup-token",
        "--access-token",
        "--public-token",
    ):
        assert option in help_text
    assert help_text.count("Give - to read it from standard input") == 6
    assert "--environment" in help_text


def test_api_connect_and_transaction_fields(user, alpaca_fake, alpaca_server, demo_connection):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    response = api.post(
        "/api/connections/",
        {
            "provider": "alpaca",
            "name": "Broker",
            "credentials": {"api_key_id": alpaca_fake.key_id, "api_secret_key": alpaca_fake.secret_key},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert api.post(f"/api/connections/{pk}/sync-accounts/", {}, format="json").status_code == 200
    window = {k: v.isoformat() for k, v in MAY.items()}
    assert api.post(f"/api/connections/{pk}/sync-transactions/", window, format="json").status_code == 200
    assert api.post(f"/api/connections/{demo_connection.pk}/sync-accounts/", {}, format="json").status_code == 200
    demo_window = {"start_date": "2026-02-01", "end_date": DEMO_TODAY.isoformat()}
    call = api.post(f"/api/connections/{demo_connection.pk}/sync-transactions/", demo_window, format="json")
    assert call.status_code == 200, call.content
    rows = api.get("/api/transactions/?page_size=500").json()["results"]
    fields = ("activity_type", "symbol", "quantity", "price", "fees")
    assert all(set(fields) <= set(row) for row in rows)
    sale = next(row for row in rows if row["symbol"] == "SLM")
    assert (sale["activity_type"], Decimal(sale["quantity"]), Decimal(sale["price"]), sale["fees"]) == (
        "sell",
        Decimal(-100),
        Decimal("8.36"),
        None,
    )
    demo_accounts = {str(pk) for pk in Account.objects.filter(connection=demo_connection).values_list("pk", flat=True)}
    plain = [row for row in rows if str(row["account"]) in demo_accounts]
    assert plain and all(row[name] is None for row in plain for name in fields)

    schema = api.get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"]["Transaction"]["properties"]
    assert set(fields) <= set(properties)
    assert properties["quantity"].get("nullable") is True


def test_admin_shows_investment_fields_and_short_positions(alpaca_connection, user, alpaca_fake, client):
    _sync_accounts(alpaca_connection, user)
    _sync_transactions(alpaca_connection, user)
    _sync_holdings(user)
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    listing = client.get("/admin/sync/transaction/?activity_type__exact=sell").content.decode()
    assert "SLM" in listing and "-100" in listing
    short = _row(symbol="SLM")
    page = client.get(f"/admin/sync/transaction/{short.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Activity type" in text and "Quantity" in text and "8.36" in text
    holdings = client.get("/admin/sync/holding/")
    assert holdings.status_code == 200 and "-100" in holdings.content.decode()
    account = client.get(f"/admin/sync/account/{Account.objects.get().pk}/change/")
    assert account.status_code == 200 and "-100" in account.content.decode()


def test_fake_builds_on_a_fresh_instance():
    """The shared builder stays usable on its own (the reliability tests reuse it)."""
    fake = build_alpaca_account(AlpacaFake())
    assert len(fake.activities) == 19 and len(fake.positions) == 2


def test_admin_add_form_connects_alpaca(user, alpaca_fake, alpaca_server, client):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    form = client.get("/admin/sync/connection/add/", {"provider": "alpaca"}).context["adminform"].form
    assert [name for name in form.fields if name.startswith("connect_")] == [
        "connect_api_key_id",
        "connect_api_secret_key",
        "connect_environment",
    ]
    assert form.fields["connect_api_secret_key"].widget.input_type == "password"
    response = client.post(
        "/admin/sync/connection/add/?provider=alpaca",
        {
            "owner": user.pk,
            "name": "Broker",
            "provider": "alpaca",
            "connect_api_key_id": alpaca_fake.key_id,
            "connect_api_secret_key": alpaca_fake.secret_key,
            "connect_environment": "",
        },
    )
    assert response.status_code == 302
    assert Connection.objects.get(name="Broker").config == {"environment": "paper"}
