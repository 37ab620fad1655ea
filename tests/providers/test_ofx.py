"""The OFX reader against the quirk catalogue: each variant parses with the right values (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from providers.errors import ProviderConfigError
from providers.ofx import StatementFileProvider
from tests.providers.ofx_helpers import BROKERAGE, CARD, CHECKING, HEADER, bank_file, sample, stmttrn

PROVIDER = StatementFileProvider(credentials={"account_key": "0f" * 32}, config={})
BASE_ROWS = (
    stmttrn("F1", "20240115120000[0:GMT]", "-42.17", "AT&T *PAYMENT"),
    stmttrn("F2", "20240119", "+0002500.00", "PAYROLL"),
)
EXPECTED = [
    ("F1", date(2024, 1, 15), Decimal("-42.17"), "AT&T *PAYMENT"),
    ("F2", date(2024, 1, 19), Decimal("2500.00"), "PAYROLL"),
]


def read(content: bytes):
    return PROVIDER.parse_statement(content)


def values(content: bytes):
    (statement,) = read(content).statements
    return [
        (t.fitid, t.transaction.posted_date, t.transaction.amount, t.transaction.payee) for t in statement.transactions
    ]


def base() -> str:
    return bank_file(*BASE_ROWS).decode("cp1252")


def v2(body: str, version: str = "220") -> bytes:
    """The base statement as OFX 2.x XML: every element closed."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<?OFX OFXHEADER="200" VERSION="{version}" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
    )
    return (xml + body).encode("utf-8")


XML_BODY = (
    "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>"
    "<STMTRS><CURDEF>USD</CURDEF><BANKACCTFROM><BANKID>123456789</BANKID><ACCTID>000111222333</ACCTID>"
    "<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><DTSTART>20240101</DTSTART><DTEND>20240131</DTEND>"
    "<STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240115120000[0:GMT]</DTPOSTED><TRNAMT>-42.17</TRNAMT>"
    "<FITID>F1</FITID><NAME>AT&amp;T *PAYMENT</NAME></STMTTRN>"
    "<STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20240119</DTPOSTED><TRNAMT>+0002500.00</TRNAMT>"
    "<FITID>F2</FITID><NAME>PAYROLL</NAME></STMTTRN></BANKTRANLIST>"
    "<LEDGERBAL><BALAMT>100.00</BALAMT><DTASOF>20240131</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
)

QUIRKS = {
    "leading blank line, cp1252 byte, no blank line before <OFX>": lambda: (
        "\n" + base().replace("NEWFILEUID:NONE\n\n", "NEWFILEUID:NONE\n").replace("PAYROLL", "PAYROLL")
    ).encode("cp1252"),
    "header with no newlines": lambda: base().replace(HEADER, HEADER.replace("\n", " ")).encode("cp1252"),
    "header with no separators at all": lambda: base().replace(HEADER, HEADER.replace("\n", "")).encode("cp1252"),
    "missing CHARSET line": lambda: base().replace("CHARSET:1252\n", "").encode("cp1252"),
    "missing COMPRESSION line": lambda: base().replace("COMPRESSION:NONE\n", "").encode("cp1252"),
    "CHARSET:UTF-8": lambda: base().replace("CHARSET:1252", "CHARSET:UTF-8").encode("utf-8"),
    "CHARSET:8859-1": lambda: base().replace("CHARSET:1252", "CHARSET:8859-1").encode("latin-1"),
    "OFX 2.2 XML, entities escaped": lambda: v2(XML_BODY),
    "OFX 2.3 (VERSION 230)": lambda: v2(XML_BODY, "230"),
    "OFX 2 on one line, ?<OFX> missing >": lambda: v2(XML_BODY).replace(b'NONE"?>\n<OFX>', b'NONE"?<OFX>'),
    "v2 header, SGML unclosed elements": lambda: v2(base()[len(HEADER) :]),
    "unclosed aggregate (no </STMTTRN>)": lambda: base().replace("</STMTTRN>", "").encode("cp1252"),
    "lower-case tags": lambda: (
        base()
        .lower()
        .replace("at&t *payment", "AT&T *PAYMENT")
        .replace("payroll", "PAYROLL")
        .replace("f1", "F1")
        .replace("f2", "F2")
        .encode("cp1252")
    ),
    "raw & in a value": lambda: base().encode("cp1252"),
    "UTF-8 BOM and CRLF": lambda: b"\xef\xbb\xbf" + base().replace("\n", "\r\n").encode("utf-8"),
    "element order differs from the spec": lambda: (
        base()
        .replace(
            "<TRNTYPE>DEBIT<DTPOSTED>20240115120000[0:GMT]<TRNAMT>-42.17<FITID>F1",
            "<FITID>F1<TRNAMT>-42.17<DTPOSTED>20240115120000[0:GMT]<TRNTYPE>DEBIT",
        )
        .encode("cp1252")
    ),
    "BANKID longer than 9": lambda: base().replace("<BANKID>123456789", "<BANKID>1234567890123").encode("cp1252"),
    "INTU.BID and unknown private tags": lambda: (
        base().replace("<STMTRS>", "<INTU.BID>10898<X.PRIVATE>1<STMTRS>").encode("cp1252")
    ),
    "comment inside the body": lambda: (
        base().replace("<BANKTRANLIST>", "<!-- a comment --><BANKTRANLIST>").encode("cp1252")
    ),
}


@pytest.mark.parametrize("build", list(QUIRKS.values()), ids=list(QUIRKS))
def test_quirk_parses_with_the_right_values(build):
    assert values(build()) == EXPECTED


def test_empty_element_is_empty_not_an_aggregate():
    content = bank_file(
        stmttrn("E1", "20240110", "-1.00", "", extra="<MEMO>FEE"), stmttrn("E2", "20240111", "-2.00", "NEXT")
    )
    (statement,) = read(content).statements
    first, second = statement.transactions
    assert (first.transaction.payee, first.transaction.description) == ("", "FEE")
    assert second.transaction.payee == "NEXT"


def test_literal_less_than_is_kept_in_the_value():
    content = bank_file(stmttrn("L1", "20240110", "-1.00", "A <B CORP"))
    assert values(content)[0][3] == "A <B CORP"


def test_long_name_is_kept_whole():
    name = "A VERY LONG MERCHANT NAME THAT GOES PAST THIRTY TWO CHARACTERS"
    assert values(bank_file(stmttrn("N1", "20240110", "-1.00", name)))[0][3] == name


def test_cp1252_declared_but_utf8_is_read_as_utf8():
    content = (
        HEADER + bank_file(stmttrn("U1", "20240110", "-1.00", "CAF\u00c9 \u2019X")).decode("cp1252")[len(HEADER) :]
    ).encode("utf-8")
    assert values(content)[0][3] == "CAF\u00c9 \u2019X"


def test_cp1252_bytes_read_as_cp1252():
    assert values(sample(CHECKING))[2][3] == "CAF\u00c9 \u2019ROUND THE CORNER"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-00000000002571.4500", "-2571.4500"),
        ("+00000000000007.9500", "7.9500"),
        ("-7,50", "-7.50"),
        (" 12 ", "12"),
        (".5", "0.5"),
    ],
)
def test_amounts_are_exact(raw, expected):
    assert values(bank_file(stmttrn("M1", "20240110", raw, "X")))[0][2] == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "booked", "utc"),
    [
        ("20091215202000.000[-4:EST]", date(2009, 12, 15), datetime(2009, 12, 16, 0, 20, tzinfo=UTC)),
        ("20240110235959[+5.30:IST]", date(2024, 1, 10), datetime(2024, 1, 10, 18, 29, 59, tzinfo=UTC)),
        ("20240110120000[-:EST]", date(2024, 1, 10), datetime(2024, 1, 10, 17, 0, tzinfo=UTC)),
        ("20240110[-5:EST]", date(2024, 1, 10), datetime(2024, 1, 10, 5, 0, tzinfo=UTC)),
        ("20240110120000[0:GMT]", date(2024, 1, 10), datetime(2024, 1, 10, 12, 0, tzinfo=UTC)),
    ],
)
def test_booking_date_is_as_written_and_dtuser_is_the_time(raw, booked, utc):
    content = bank_file(stmttrn("D1", raw, "-1.00", "X", extra=f"<DTUSER>{raw}"))
    (statement,) = read(content).statements
    data = statement.transactions[0].transaction
    assert (data.posted_date, data.transacted_at) == (booked, utc)


def test_missing_fitid_gets_a_content_id_and_a_warning():
    content = base().replace("<FITID>F1", "").encode("cp1252")
    result = read(content)
    assert result.statements[0].transactions[0].fitid.startswith("nofitid-")
    assert "has no <FITID>" in result.warnings[0]


def test_empty_balance_amount_is_no_balance():
    content = base().replace("<BALAMT>100.00", "<BALAMT>").encode("cp1252")
    assert read(content).statements[0].account.balance is None


def test_account_number_is_hashed_and_masked():
    (statement,) = read(sample(CARD)).statements
    assert statement.account.mask == "1111"
    assert "4111111111111111" not in repr(statement)
    other_key = StatementFileProvider(credentials={"account_key": "aa" * 32}, config={})
    assert (
        other_key.parse_statement(sample(CARD)).statements[0].account.provider_account_id
        != statement.account.provider_account_id
    )


def test_short_position_is_negative_whatever_the_sign_of_units():
    (statement,) = read(sample(BROKERAGE)).statements
    short = next(h for h in statement.holdings if h.symbol == "EXBR")
    assert (short.quantity, short.market_value) == (Decimal("-5"), Decimal("-197.50"))


@pytest.mark.parametrize("content", [b"", b"hello", b"\x00\x01\x02", b"<html><body>no</body></html>"])
def test_not_ofx_is_refused(content):
    with pytest.raises(ProviderConfigError):
        read(content)


def investment_file(*rows: str) -> bytes:
    """A minimal SGML investment statement with these INVTRANLIST children."""
    body = (
        "<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        "<INVSTMTRS><DTASOF>20240131<CURDEF>USD<INVACCTFROM><BROKERID>broker.example<ACCTID>X1</INVACCTFROM>\n"
        "<INVTRANLIST><DTSTART>20240101<DTEND>20240131\n" + "".join(rows) + "</INVTRANLIST>\n"
        "</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>\n"
    )
    return (HEADER + body).encode("cp1252")


def test_unknown_investment_element_is_other_or_skipped_never_an_error():
    result = read(
        investment_file(
            "<NEWTHING><INVTRAN><FITID>N1<DTTRADE>20240110</INVTRAN><TOTAL>1.00</NEWTHING>\n",
            "<NOIDTHING><TOTAL>2.00</NOIDTHING>\n",
        )
    )
    assert result.warnings == ["line 15: <NOIDTHING> is not an investment transaction FinSync knows; skipped"]
    (row,) = result.statements[0].transactions
    assert (row.fitid, row.transaction.activity_type, row.transaction.amount) == ("N1", "other", Decimal("1.00"))


def test_cash_activity_direction_comes_from_the_amount_not_trntype():
    rows = [
        "<INVBANKTRAN><STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240110<TRNAMT>5.00<FITID>B1<NAME>REFUND</STMTTRN>"
        "</INVBANKTRAN>\n",
        "<INVBANKTRAN><STMTTRN><TRNTYPE>XFER<DTPOSTED>20240111<TRNAMT>-9.00<FITID>B2<NAME>OUT</STMTTRN>"
        "</INVBANKTRAN>\n",
        "<INVBANKTRAN><STMTTRN><TRNTYPE>WEIRD<DTPOSTED>20240112<TRNAMT>-1.00<FITID>B3<NAME>?</STMTTRN></INVBANKTRAN>\n",
    ]
    (statement,) = read(investment_file(*rows)).statements
    assert [t.transaction.activity_type for t in statement.transactions] == ["deposit", "transfer", "other"]


def test_trade_without_total_gets_the_total_by_its_definition():
    buy = (
        "<BUYSTOCK><INVBUY><INVTRAN><FITID>T1<DTTRADE>20240110</INVTRAN>"
        "<SECID><UNIQUEID>123456789<UNIQUEIDTYPE>CUSIP</SECID><UNITS>-3<UNITPRICE>10.00<COMMISSION>1.00"
        "</INVBUY><BUYTYPE>BUY</BUYSTOCK>\n"
    )
    (statement,) = read(investment_file(buy)).statements
    data = statement.transactions[0].transaction
    assert (data.symbol, data.quantity, data.fees, data.amount) == (
        "123456789",
        Decimal("3"),
        Decimal("1.00"),
        Decimal("-31.00"),
    )
