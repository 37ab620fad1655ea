"""ImportStatement end to end on the real database: identity rules, idempotence, balances, holdings, audit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sync import errors
from sync.commands import SyncAccounts, SyncTransactions
from sync.models import Account, AuditEvent, BalanceSnapshot, Holding, StatementImport, SyncRun, Transaction
from sync.services.edits import edit_transaction
from sync.services.handlers import sync_accounts, sync_transactions
from tests.factories import ConnectionFactory
from tests.providers.ofx_helpers import (
    BROKERAGE,
    CARD,
    CHECKING,
    bank_file,
    file_connection,
    run_import,
    sample,
    stmttrn,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(user):
    return file_connection(user)


def rows(account=None):
    qs = Transaction.objects.filter(is_removed=False)
    if account is not None:
        qs = qs.filter(account=account)
    return sorted((t.posted_date.isoformat(), str(t.amount), t.payee) for t in qs)


def test_bank_statement_creates_account_transactions_balance_run_and_events(files, user):
    result = run_import(files, user, sample(CHECKING), filename="chase_checking.qfx")

    assert (result.command, result.status, result.created) == ("statement", "succeeded", 5)  # 1 account + 4 rows
    account = Account.objects.get(connection=files)
    assert (account.type, account.subtype, account.mask, account.name) == (
        "depository",
        "checking",
        "2333",
        "B1 Checking 2333",
    )
    assert account.balance == Decimal("5012.7700") and account.available_balance == Decimal("4988.1000")
    snapshot = BalanceSnapshot.objects.get(account=account)
    assert (snapshot.as_of.isoformat(), snapshot.source) == ("2024-01-31T12:00:00+00:00", "statement")
    assert rows(account) == [
        ("2024-01-15", "-42.1700", "AT&T *PAYMENT"),
        ("2024-01-19", "2500.0000", "EXAMPLE CORP PAYROLL"),
        ("2024-01-22", "-7.5000", "CAF\u00c9 \u2019ROUND THE CORNER"),
        ("2024-01-25", "-12.0000", ""),
    ]
    fee = Transaction.objects.get(amount=Decimal("-12"))
    assert fee.description == "MONTHLY SERVICE FEE"
    cafe = Transaction.objects.get(amount=Decimal("-7.5"))
    assert cafe.transacted_at.isoformat() == "2024-01-21T23:30:00+00:00"  # DTUSER 18:30 EST
    run = SyncRun.objects.get(pk=result.sync_run_id)
    assert (run.kind, run.status, run.created_count) == ("statement", "succeeded", 5)
    assert StatementImport.objects.get(connection=files).filename == "chase_checking.qfx"
    events = AuditEvent.objects.filter(connection_id=files.pk, event__startswith="sync.statement")
    assert sorted(events.values_list("event", flat=True)) == ["sync.statement.attempted", "sync.statement.succeeded"]
    for event in events:
        file = event.payload["file"]
        assert (file["name"], file["size"]) == ("chase_checking.qfx", len(sample(CHECKING)))
        assert len(file["sha256"]) == 64
        assert "AT&T" not in str(event.payload)  # the file's contents are never audited


def test_reimport_is_skipped_and_a_forced_one_changes_nothing(files, user):
    run_import(files, user, sample(CHECKING))
    before = list(Transaction.objects.order_by("pk").values())

    again = run_import(files, user, sample(CHECKING))
    assert (again.status, again.reason) == ("skipped", "already_imported")
    forced = run_import(files, user, sample(CHECKING), force=True)

    assert (forced.status, forced.created, forced.updated, forced.removed, forced.unchanged) == (
        "succeeded",
        0,
        0,
        0,
        5,
    )
    assert list(Transaction.objects.order_by("pk").values()) == before
    assert StatementImport.objects.count() == 1


def test_overlapping_download_adds_exactly_the_new_rows_and_keeps_user_fields(files, user):
    first = bank_file(stmttrn("A1", "20240105", "-10.00", "SHOP ONE"), stmttrn("A2", "20240110", "-20.00", "SHOP TWO"))
    run_import(files, user, first)
    edited = Transaction.objects.get(payee="SHOP TWO")
    edit_transaction(transaction_id=edited.pk, user_id=user.pk, source="cli", category="groceries", notes="mine")

    later = bank_file(
        stmttrn("A2", "20240110", "-20.00", "SHOP TWO"),
        stmttrn("A3", "20240120", "-30.00", "SHOP THREE"),
    )
    result = run_import(files, user, later)

    assert (result.created, result.updated, result.unchanged) == (1, 0, 2)  # the new row; A2 and the account
    assert rows() == [
        ("2024-01-05", "-10.0000", "SHOP ONE"),
        ("2024-01-10", "-20.0000", "SHOP TWO"),
        ("2024-01-20", "-30.0000", "SHOP THREE"),
    ]
    edited.refresh_from_db()
    assert (edited.category, edited.notes) == ("groceries", "mine")


def test_duplicate_fitids_in_one_file_are_all_kept_and_reimport_finds_each(files, user):
    run_import(files, user, sample(CARD))

    assert rows() == [
        ("2024-02-05", "-100.0000", "HOTEL EXAMPLE LISBOA"),
        ("2024-02-05", "-3.0000", "FOREIGN TRANSACTION FEE"),
        ("2024-02-10", "-20.0000", "BOOKSHOP EXAMPLE"),
        ("2024-02-10", "1.0000", "REWARD CREDIT"),
        ("2024-02-15", "-4.5000", "LATE NIGHT DINER"),
        ("2024-02-20", "-2.7500", "CITY TRANSIT"),
        ("2024-02-20", "-2.7500", "CITY TRANSIT"),  # identical FITID, date and amount: two fares
        ("2024-02-25", "500.0000", "AUTOMATIC PAYMENT - THANK"),
    ]
    forced = run_import(files, user, sample(CARD), force=True)
    assert (forced.created, forced.updated, forced.unchanged) == (0, 0, 9)
    assert Transaction.objects.count() == 8


def test_card_number_is_stored_nowhere_and_zero_available_is_ignored(files, user):
    run_import(files, user, sample(CARD))
    account = Account.objects.get()

    assert (account.mask, account.type, account.balance, account.available_balance) == (
        "1111",
        "credit",
        Decimal("-6026.9800"),
        None,
    )
    assert "4111111111111111" not in account.provider_account_id
    for model in (Account, Transaction, SyncRun, AuditEvent, StatementImport):
        for values in model.objects.values():
            assert "4111111111111111" not in str(values)


def test_booking_date_is_the_banks_not_shifted_by_a_time_zone(files, user):
    run_import(files, user, sample(CARD))  # DTPOSTED 20240215220000.000[-5:EST] is 2024-02-16 in UTC

    assert Transaction.objects.get(payee="LATE NIGHT DINER").posted_date == date(2024, 2, 15)


def test_changed_fitid_between_downloads_does_not_duplicate(files, user):
    run_import(files, user, bank_file(stmttrn("OLD-1", "20240110", "-20.00", "SHOP TWO")))
    stored = Transaction.objects.get()
    edit_transaction(transaction_id=stored.pk, user_id=user.pk, source="cli", notes="kept")

    later = bank_file(
        stmttrn("NEW-1", "20240110", "-20.00", "Shop  Two"),  # same day, amount and name: a new id only
        stmttrn("NEW-2", "20240110", "-20.00", "OTHER SHOP"),  # same day and amount, another name: new
    )
    run_import(files, user, later)

    assert rows() == [("2024-01-10", "-20.0000", "OTHER SHOP"), ("2024-01-10", "-20.0000", "Shop  Two")]
    stored.refresh_from_db()
    assert (stored.notes, stored.payee, stored.is_removed) == ("kept", "Shop  Two", False)


def test_corrections_replace_and_delete(files, user):
    run_import(
        files,
        user,
        bank_file(stmttrn("T1", "20240105", "-10.00", "WRONG AMOUNT"), stmttrn("T2", "20240106", "-5.00", "VOIDED")),
    )
    wrong = Transaction.objects.get(payee="WRONG AMOUNT")
    edit_transaction(transaction_id=wrong.pk, user_id=user.pk, source="cli", category="books")

    corrections = bank_file(
        stmttrn("T1B", "20240105", "-11.00", "RIGHT AMOUNT", extra="<CORRECTFITID>T1<CORRECTACTION>REPLACE"),
        stmttrn("T2X", "20240106", "-5.00", "VOIDED", extra="<CORRECTFITID>T2<CORRECTACTION>DELETE"),
    )
    result = run_import(files, user, corrections)

    assert result.removed == 2
    assert rows() == [("2024-01-05", "-11.0000", "RIGHT AMOUNT")]
    right = Transaction.objects.get(payee="RIGHT AMOUNT")
    assert (right.category, right.replaces_id) == ("books", wrong.pk)
    # The old file again does not bring the corrected rows back.
    run_import(
        files,
        user,
        bank_file(stmttrn("T1", "20240105", "-10.00", "WRONG AMOUNT"), stmttrn("T2", "20240106", "-5.00", "VOIDED")),
        force=True,
    )
    assert rows() == [("2024-01-05", "-11.0000", "RIGHT AMOUNT")]


def test_investment_statement_holdings_cash_and_transactions(files, user):
    result = run_import(files, user, sample(BROKERAGE))

    assert result.status == "succeeded"
    account = Account.objects.get()
    assert (account.type, account.mask, account.available_balance, account.balance) == (
        "investment",
        "5678",
        Decimal("148.3500"),
        Decimal("13063.8400"),
    )
    held = {h.symbol: (h.quantity, h.market_value, h.asset_type) for h in Holding.objects.filter(is_active=True)}
    assert held == {
        "EXAP": (Decimal("10"), Decimal("1844.00"), "equity"),
        "EXFIX": (Decimal("25.431"), Decimal("11268.99"), "mutual fund"),
        "EXBR": (Decimal("-5"), Decimal("-197.50"), "equity"),  # POSTYPE SHORT with UNITS 5
        "CUR:USD": (Decimal("148.35"), Decimal("148.35"), "cash"),
    }
    assert Holding.objects.get(symbol="EXFIX").name == "EXAMPLE 500 INDEX FUND"
    assert Transaction.objects.count() == len(INVESTMENT_ROWS)
    buy = Transaction.objects.get(amount=Decimal("-1852.02"))
    assert (buy.description, buy.provider_category) == ("Buy 10 EXAP @ 185.20 / YOU BOUGHT", "BUYSTOCK")


# The sample brokerage file's transactions: FITID -> (activity type, symbol, quantity, price, fees, amount).
INVESTMENT_ROWS = {
    "T-20240110-0001": ("buy", "EXAP", "10", "185.2", "0.02", "-1852.02"),  # BUYSTOCK
    "T-20240111-0003": ("buy", "EXFIX", "1.5", "440", "2.5", "-662.5"),  # BUYMF: COMMISSION 0 + LOAD 2.50
    "T-20240125-0004": ("buy", "EXBR", "2", "39", "1.06", "-79.06"),  # BUYTOCOVER: 1.00 + 0.05 + 0.01
    "T-20240120-0002": ("sell", "EXBR", "-5", "40", "1", "199"),  # SELLSHORT
    "T-20240126-0005": ("sell", "EXFIX", "-2", "445.13", "0.01", "890.2456"),  # UNITS 2; TOTAL 890.24565
    "T-20240112-0006": ("buy", "000000009", "1000", "0.985", None, "-985"),  # BUYDEBT, no SECLIST entry
    "T-20240127-0007": ("sell", "000000009", "-500", "0.99", None, "495"),  # SELLDEBT
    "T-20240116-0008": ("buy", "EXAP240621C00190000", "1", "3.1", "0.65", "-310.65"),  # BUYOPT
    "T-20240129-0009": ("sell", "EXAP240621C00190000", "-1", "4", "0.65", "399.35"),  # SELLOPT
    "T-20240117-0010": ("buy", "EXGLD", "3", "20", None, "-60"),  # BUYOTHER
    "T-20240128-0011": ("sell", "EXGLD", "-1", "21", None, "21"),  # SELLOTHER
    "D-20240115-0001": ("dividend", "EXFIX", None, None, None, "14.37"),  # INCOME DIV
    "I-20240116-0002": ("interest", "000000009", None, None, None, "12.5"),  # INCOME INTEREST
    "I-20240117-0003": ("dividend", "EXFIX", None, None, None, "30"),  # INCOME CGLONG
    "I-20240117-0004": ("dividend", "EXFIX", None, None, None, "5"),  # INCOME CGSHORT
    "I-20240118-0005": ("other", "EXAP", None, None, None, "1"),  # INCOME MISC
    "R-20240115-0001": ("buy", "EXFIX", "0.032", "449.06", None, "-14.37"),  # REINVEST, income is D-...-0001
    "R-20240117-0002": ("buy", "EXFIX", "0.016", "453.125", None, "-7.25"),  # REINVEST, TOTAL +7.25, no INCOME
    "R-20240117-0002:income": ("dividend", "EXFIX", None, None, None, "7.25"),  # ... so its income side
    "C-20240119-0001": ("other", "EXAP", None, None, None, "3"),  # RETOFCAP
    "E-20240119-0001": ("fee", "EXAP", None, None, None, "-2"),  # INVEXPENSE
    "M-20240131-0001": ("interest", None, None, None, None, "-4.1"),  # MARGININTEREST
    "S-20240122-0001": ("split", "EXAP", "10", None, None, "0"),  # NEWUNITS 20 - OLDUNITS 10
    "X-20240108-0001": ("transfer", "EXGLD", "5", None, None, "0"),  # TRANSFER IN
    "X-20240130-0002": ("transfer", "EXGLD", "-2", None, None, "0"),  # TRANSFER OUT, UNITS 2
    "J-20240109-0001": ("transfer", None, None, None, None, "0"),  # JRNLFUND: within the account
    "J-20240109-0002": ("transfer", "EXAP", None, None, None, "0"),  # JRNLSEC: within the account
    "O-20240130-0001": ("other", "EXAP240621C00190000", None, None, None, "0"),  # CLOSUREOPT
    "A-20240131-0001": ("other", None, None, None, None, "0.5"),  # an element FinSync does not know
    "C-20240105-0001": ("deposit", None, None, None, None, "2000"),  # INVBANKTRAN CREDIT
    "C-20240106-0002": ("withdrawal", None, None, None, None, "-500"),  # INVBANKTRAN DEBIT
    "C-20240131-0003": ("interest", None, None, None, None, "0.42"),  # INVBANKTRAN INT
    "C-20240131-0004": ("fee", None, None, None, None, "-1"),  # INVBANKTRAN FEE
}


def _number(value):
    return None if value is None else value.normalize()


def test_investment_transactions_fill_the_investment_fields(files, user):
    run_import(files, user, sample(BROKERAGE))

    stored = {
        t.provider_transaction_id.rsplit("|", 3)[0]: (
            t.activity_type,
            t.symbol,
            _number(t.quantity),
            _number(t.price),
            _number(t.fees),
            _number(t.amount),
        )
        for t in Transaction.objects.all()
    }
    expected = {
        fitid: (kind, symbol, *(None if n is None else Decimal(n).normalize() for n in numbers))
        for fitid, (kind, symbol, *numbers) in INVESTMENT_ROWS.items()
    }
    assert stored == expected
    sold = Transaction.objects.get(provider_transaction_id__startswith="T-20240126-0005|")
    assert sold.amount == Decimal("890.2456")  # 890.24565 to 4 places, half-even (half-up gives .2457)
    assert sold.provider_transaction_id == "T-20240126-0005|20240126|890.2456|0"
    gain = Transaction.objects.get(provider_transaction_id__startswith="I-20240117-0003|")
    assert (gain.provider_category, gain.description) == ("INCOME:CGLONG", "Capital gain (long) EXFIX")


def test_forced_reimport_of_the_brokerage_file_writes_nothing(files, user):
    run_import(files, user, sample(BROKERAGE))
    before = list(Transaction.objects.order_by("pk").values())

    forced = run_import(files, user, sample(BROKERAGE), force=True)

    assert (forced.status, forced.created, forced.updated, forced.removed) == ("succeeded", 0, 0, 0)
    assert forced.unchanged == 1 + len(INVESTMENT_ROWS) + 4  # the account, the rows, the 4 holdings
    assert list(Transaction.objects.order_by("pk").values()) == before


def test_several_statements_in_one_file_each_applied_and_an_errored_one_refused(files, user):
    bank = sample(CHECKING).decode("cp1252")
    card = sample(CARD).decode("cp1252")
    card_part = card[card.index("<CREDITCARDMSGSRSV1>") : card.index("</CREDITCARDMSGSRSV1>") + 21]
    failed = (
        "<BANKMSGSRSV1><STMTTRNRS><TRNUID>9<STATUS><CODE>2000<SEVERITY>ERROR<MESSAGE>Account unavailable"
        "</STATUS></STMTTRNRS></BANKMSGSRSV1>"
    )
    combined = bank.replace("</OFX>", card_part + failed + "</OFX>").encode("cp1252")

    result = run_import(files, user, combined)

    assert result.status == "succeeded"
    assert sorted(Account.objects.values_list("type", flat=True)) == ["credit", "depository"]
    assert Transaction.objects.count() == 12
    assert len(result.warnings) == 1 and "code 2000 (Account unavailable)" in result.warnings[0]
    assert SyncRun.objects.get(pk=result.sync_run_id).reason_code == "partial_errors"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"Date,Amount,Payee\n2024-01-01,-1.00,Shop\n", "line 1: not an OFX or QFX file"),
        (b"%PDF-1.7\n\x00\x01\x02binary", "not an OFX or QFX file (it holds binary data)"),
        (b"OFXHEADER:100\nDATA:OFXSGML\n\n", "has an OFX header but no <OFX> element"),
        (bank_file(stmttrn("X", "20240144", "-1.00", "BAD DAY")), "<DTPOSTED> '20240144' is not a date"),
        (bank_file(stmttrn("X", "20240110", "12.3.4", "BAD AMOUNT")), "<TRNAMT> '12.3.4' is not an amount"),
        (bank_file(stmttrn("X", "20240110", "-1.00", "OK"), acctid=""), "<BANKACCTFROM> has no <ACCTID>"),
        (
            b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR</STATUS></SONRS></SIGNONMSGSRSV1></OFX>",
            "the institution refused the download: code 15500",
        ),
        (b"<OFX><SIGNONMSGSRSV1></SIGNONMSGSRSV1></OFX>", "holds no bank, credit card or investment statement"),
    ],
)
def test_bad_files_get_a_validation_error_and_write_nothing(files, user, content, message):
    with pytest.raises(errors.ValidationError) as caught:
        run_import(files, user, content)

    assert message in caught.value.message
    assert not Account.objects.exists() and not Transaction.objects.exists()
    assert not StatementImport.objects.exists()
    run = SyncRun.objects.get(kind="statement")
    assert (run.status, run.reason_code) == ("failed", "validation_error")
    assert AuditEvent.objects.filter(event="sync.statement.failed").count() == 1


def test_bad_date_error_names_the_line(files, user):
    with pytest.raises(errors.ValidationError) as caught:
        run_import(files, user, bank_file(stmttrn("X", "20240144", "-1.00", "BAD DAY")))
    assert caught.value.message.startswith("line 15: <DTPOSTED>")  # the STMTTRN line


def test_file_over_the_limit_is_refused(files, user, settings):
    settings.FINSYNC_MAX_STATEMENT_BYTES = 100
    with pytest.raises(errors.ValidationError, match="over the limit of 100"):
        run_import(files, user, sample(CHECKING))
    assert not Transaction.objects.exists()
    assert SyncRun.objects.get().reason_code == "validation_error"


def test_another_users_connection_is_not_found(files, other_user):
    with pytest.raises(errors.NotFound):
        run_import(files, other_user, sample(CHECKING))
    assert not Account.objects.exists()


def test_import_into_a_demo_connection_is_refused(user):
    demo = ConnectionFactory(owner=user)
    with pytest.raises(errors.ValidationError, match="not a statement-file one"):
        run_import(demo, user, sample(CHECKING))


def test_syncs_of_a_file_connection_are_skipped_with_a_reason(files, user):
    for result in (
        sync_accounts(SyncAccounts(connection_id=files.pk, user_id=user.pk), source="cli"),
        sync_transactions(SyncTransactions(connection_id=files.pk, user_id=user.pk), source="cli"),
    ):
        assert (result.status, result.reason) == ("skipped", "imports_files")
        assert "import an OFX or QFX file" in result.message
