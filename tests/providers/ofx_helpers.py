"""Statement-file tests: the sample files (tests/fixtures/statements/, synthetic) and small builders."""

from __future__ import annotations

from pathlib import Path

from sync.commands import ImportStatement
from sync.services.connections import create_connection
from sync.services.handlers import import_statement

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "statements"
CHECKING = "chase_checking.qfx"
CARD = "chase_card.qfx"
BROKERAGE = "brokerage_v2.ofx"

HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
    "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def file_connection(owner, name: str = "Statement files"):
    return create_connection(owner=owner, provider="ofx", name=name, options={}, actor=owner, source="cli")


def run_import(connection, user, content: bytes, *, filename: str = "statement.qfx", force: bool = False):
    command = ImportStatement(
        connection_id=connection.pk, user_id=user.pk, filename=filename, content=content, force=force
    )
    return import_statement(command, source="cli")


def stmttrn(fitid: str, posted: str, amount: str, name: str, *, extra: str = "") -> str:
    return f"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{posted}<TRNAMT>{amount}<FITID>{fitid}<NAME>{name}{extra}</STMTTRN>\n"


def bank_file(*rows: str, acctid: str = "000111222333", ledger: str = "100.00", asof: str = "20240131") -> bytes:
    """A minimal SGML bank statement with these STMTTRN rows."""
    body = (
        "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240131</SONRS>"
        "</SIGNONMSGSRSV1>\n<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\n"
        f"<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>123456789<ACCTID>{acctid}<ACCTTYPE>CHECKING</BANKACCTFROM>\n"
        "<BANKTRANLIST><DTSTART>20240101<DTEND>20240131\n"
        + "".join(rows)
        + f"</BANKTRANLIST><LEDGERBAL><BALAMT>{ledger}<DTASOF>{asof}</LEDGERBAL>\n"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    return (HEADER + body).encode("cp1252")
