"""A tolerant OFX/QFX reader: bytes -> a tree of elements, for `providers.ofx` to map.

Why our own and not a library: ofxtools (GPL-3.0-only, which FinSync's MIT
licence cannot take in) fails a whole file on an empty element or an unclosed
aggregate and silently drops lower-case tags; ofxparse (MIT) has been
unmaintained since 2021 and crashes on Chase's leading blank line with a
cp1252 byte, and on a header without newlines. Neither keeps the booking date
as the bank wrote it. This reader handles every variant the same way:

- bytes: a UTF-8 (or UTF-16) byte-order mark is dropped; the text is read as
  UTF-8 when it is valid UTF-8 (a file that declares cp1252 but is UTF-8),
  else in the declared charset (`CHARSET:1252`, `ISO-8859-1`; cp1252 when
  missing);
- the header (SGML `KEY:VALUE` lines, with or without newlines or a blank
  line after them, or the XML `<?OFX ...?>` declaration) is skipped: the data
  starts at `<OFX>`, found case-insensitively;
- tags are case-insensitive; a data element's value ends at the next tag
  (SGML leaves them unclosed, XML closes them; both read the same); an
  element with no text is empty, not an aggregate; an aggregate left open is
  closed when its parent closes or when a sibling of the same name opens
  (no OFX aggregate contains itself); a `<` that starts no tag is text;
- entities (`&amp;`, `&lt;`, `&#39;` ...) are unescaped, and a raw `&` (AT&T)
  is kept as it is.

Every element remembers its line, so errors can say where.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Aggregates of the messages FinSync reads (OFX 2.2 spec, sections 2, 11 and 13):
# with these known, an empty data element is never mistaken for an aggregate.
AGGREGATES = _names(
    """
    OFX SIGNONMSGSRSV1 SONRS STATUS FI
    BANKMSGSRSV1 STMTTRNRS STMTRS BANKACCTFROM BANKACCTTO BANKTRANLIST BANKTRANLISTP STMTTRN STMTTRNP
    LEDGERBAL AVAILBAL BALLIST BAL PAYEE CURRENCY ORIGCURRENCY CCACCTTO
    CREDITCARDMSGSRSV1 CCSTMTTRNRS CCSTMTRS CCACCTFROM
    INVSTMTMSGSRSV1 INVSTMTTRNRS INVSTMTRS INVACCTFROM INVTRANLIST INVPOSLIST INVBAL INVOOLIST INV401K INV401KBAL
    INVTRAN INVBUY INVSELL SECID BUYSTOCK SELLSTOCK BUYMF SELLMF BUYDEBT SELLDEBT BUYOPT SELLOPT BUYOTHER SELLOTHER
    CLOSUREOPT INCOME REINVEST RETOFCAP INVEXPENSE MARGININTEREST SPLIT TRANSFER JRNLFUND JRNLSEC INVBANKTRAN
    POSSTOCK POSMF POSOPT POSDEBT POSOTHER INVPOS
    SECLISTMSGSRSV1 SECLIST STOCKINFO MFINFO OPTINFO DEBTINFO OTHERINFO SECINFO MKTGINFO
    """
)

# Data elements that are closed in XML files but never hold children.
_DATA_ELEMENTS = _names(
    """
    CODE SEVERITY MESSAGE DTSERVER LANGUAGE ORG FID INTU.BID INTU.USERID TRNUID CURDEF BANKID BRANCHID ACCTID
    ACCTTYPE DTSTART DTEND TRNTYPE DTPOSTED DTUSER DTAVAIL TRNAMT FITID CORRECTFITID CORRECTACTION SRVRTID
    CHECKNUM REFNUM SIC PAYEEID NAME EXTDNAME MEMO BALAMT DTASOF BROKERID DTTRADE DTSETTLE REVERSALFITID
    UNIQUEID UNIQUEIDTYPE UNITS UNITPRICE MARKUP MARKDOWN COMMISSION TAXES FEES LOAD TOTAL SUBACCTSEC SUBACCTFUND
    BUYTYPE SELLTYPE INCOMETYPE HELDINACCT POSTYPE MKTVAL AVGCOSTBASIS DTPRICEASOF AVAILCASH MARGINBALANCE
    SHORTBALANCE BUYPOWER SECNAME TICKER FIID RATING CURRATE CURSYM
    OPTBUYTYPE OPTSELLTYPE SHPERCTRDENOM OPTACTION RELFITID RELTYPE SECURED GAIN TFERACTION DTPURCHASE
    PURCHASEPRICE OLDUNITS NEWUNITS NUMERATOR DENOMINATOR FRACCASH UNITTYPE SUBACCTFROM SUBACCTTO
    TAXEXEMPT WITHHOLDING STATEWITHHOLDING PENALTY ACCRDINT LOANID LOANPRINCIPAL LOANINTEREST INV401KSOURCE
    DTPAYROLL PRIORYEARCONTRIB
    """
)
_TAG = re.compile(
    r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)\s*(?P<empty>/)?>"
    r"|<\?.*?(?:\?>|(?=<))"  # a processing instruction; Fidelity's `?<OFX>` lacks its `>`
    r"|<!--.*?-->",
    re.DOTALL,
)
_ENTITY = re.compile(r"&(amp|lt|gt|quot|apos|nbsp|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": " "}
_OFX_START = re.compile(r"<\s*OFX\s*>", re.IGNORECASE)
_CHARSET = re.compile(rb"CHARSET\s*:\s*([A-Za-z0-9_\-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9_\-]+)[\"']", re.IGNORECASE)


class OFXSyntaxError(ValueError):
    """The file is not OFX, or not readable as OFX; the message says what and where."""


@dataclass
class Element:
    """One element: a data element has a `value`, an aggregate has `children`."""

    name: str
    line: int
    value: str | None = None
    children: list[Element] = field(default_factory=list)

    def find(self, name: str) -> Element | None:
        """The first child named `name`."""
        for child in self.children:
            if child.name == name:
                return child
        return None

    def findall(self, name: str) -> list[Element]:
        return [child for child in self.children if child.name == name]

    def text(self, name: str) -> str:
        """The stripped value of the child data element `name`; "" when absent or empty."""
        child = self.find(name)
        return (child.value or "").strip() if child is not None else ""

    def path(self, *names: str) -> Element | None:
        node: Element | None = self
        for name in names:
            node = node.find(name) if node is not None else None
        return node

    def iter(self, name: str) -> Iterator[Element]:
        """Every descendant named `name`, in document order."""
        for child in self.children:
            if child.name == name:
                yield child
            yield from child.iter(name)


def _unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        entity = match.group(1)
        if entity.startswith("#"):
            code = int(entity[2:], 16) if entity[1:2] in ("x", "X") else int(entity[1:])
            return chr(code) if 0 < code < 0x110000 else match.group(0)
        return _NAMED[entity]

    return _ENTITY.sub(one, text)


def decode(content: bytes) -> str:
    """The file as text: BOM dropped, UTF-8 when valid, else the declared charset (cp1252 by default)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    elif content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            raise OFXSyntaxError("line 1: the file starts like UTF-16 but is not valid UTF-16") from None
    if b"\x00" in content[:4096]:
        raise OFXSyntaxError("line 1: not an OFX or QFX file (it holds binary data)")
    try:
        # Banks label UTF-8 files CHARSET:1252; valid UTF-8 with non-ASCII bytes is
        # almost never meant as cp1252, so UTF-8 wins when it decodes.
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = content[:2048]
    declared = _XML_ENCODING.search(head) or _CHARSET.search(head)
    charset = declared.group(1).decode("ascii").upper() if declared else "1252"
    codec = "latin-1" if charset in ("ISO-8859-1", "8859-1", "LATIN1", "LATIN-1") else "cp1252"
    try:
        return content.decode(codec)
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined: read those as latin-1 rather than refuse the file.
        return content.decode("latin-1")


class _Lines:
    def __init__(self, text: str) -> None:
        self._breaks = [i for i, char in enumerate(text) if char == "\n"]

    def at(self, offset: int) -> int:
        return bisect.bisect_right(self._breaks, offset - 1) + 1


def parse(content: bytes) -> Element:
    """The `<OFX>` element of an OFX 1.x (SGML), 2.x (XML) or QFX file; OFXSyntaxError otherwise."""
    if not content.strip():
        raise OFXSyntaxError("line 1: the file is empty")
    text = decode(content)
    lines = _Lines(text)
    start = _OFX_START.search(text)
    if start is None:
        first = text.lstrip()[:20]
        if first.upper().startswith(("OFXHEADER", "<?XML", "<?OFX")):
            raise OFXSyntaxError("the file has an OFX header but no <OFX> element")
        raise OFXSyntaxError("line 1: not an OFX or QFX file (no OFXHEADER and no <OFX> element)")
    return _build(text, start.start(), lines)


def _build(text: str, begin: int, lines: _Lines) -> Element:
    """The element tree from `<OFX>` on (see the module docstring for the tolerance rules)."""
    builder = _TreeBuilder({m.group("name").upper() for m in _TAG.finditer(text, begin) if m.group("close")})
    pos = begin
    for match in _TAG.finditer(text, begin):
        builder.text(text[pos : match.start()])
        pos = match.end()
        name = (match.group("name") or "").upper()
        if not name:  # a processing instruction or a comment
            continue
        if match.group("close"):
            builder.close(name)
        else:
            builder.open(name, lines.at(match.start()), empty=bool(match.group("empty")))
    builder.end()
    ofx = builder.root.find("OFX")
    if ofx is None:
        raise OFXSyntaxError("not an OFX or QFX file (no <OFX> element)")
    return ofx


class _TreeBuilder:
    def __init__(self, closed_names: set[str]) -> None:
        self.closed_names = closed_names  # names some close tag uses: aggregates, or XML data elements
        self.root = Element("#document", 1)
        self.stack: list[Element] = [self.root]
        self.pending: Element | None = None  # a data element just opened, its value not read yet

    def text(self, between: str) -> None:
        if self.pending is not None and between.strip():
            self.pending.value = _unescape(between.strip())
            self.pending = None

    def _settle(self) -> None:
        """A data element with no text before the next tag is empty (`<NAME>` then `<MEMO>`)."""
        if self.pending is not None and self.pending.value is None:
            self.pending.value = ""
        self.pending = None

    def _close_open(self, name: str) -> None:
        """Close the open aggregate `name` and whatever is left open inside it."""
        if any(node.name == name for node in self.stack[1:]):
            while self.stack[-1].name != name:
                self.stack.pop()
            self.stack.pop()

    def close(self, name: str) -> None:
        if self.pending is not None and self.pending.name == name:
            self._settle()  # an XML data element's close tag
            return
        self._settle()
        # A close tag with nothing open of its name is skipped.
        self._close_open(name)

    def open(self, name: str, line: int, *, empty: bool) -> None:
        self._settle()
        element = Element(name, line)
        if name in AGGREGATES or (name in self.closed_names and name not in _DATA_ELEMENTS):
            # An aggregate left open is closed by a sibling of its name: OFX never nests one in itself.
            self._close_open(name)
            self.stack[-1].children.append(element)
            if not empty:
                self.stack.append(element)
            return
        self.stack[-1].children.append(element)
        if empty:
            element.value = ""
        else:
            self.pending = element

    def end(self) -> None:
        self._settle()
