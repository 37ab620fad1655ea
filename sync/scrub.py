"""Scrubbing secrets out of messages that are stored or shown.

A provider may echo what it was sent: the access token in Plaid's
`error_message`, the Basic header of a SimpleFIN request in a warning, the
access URL's password URL-encoded or upper-cased. Adapters try not to copy
credentials into their messages, but only the sync core knows every secret of
a connection (its decrypted credentials) and of the server (the provider
client secrets in settings), so it scrubs every provider-sourced message here,
once, before it becomes a SyncRun message or warning, a Connection's
`last_error`, an audit payload, an API error body, an admin message or CLI
output.

Each secret is replaced in every form it may be echoed in: as given, in any
letter case (and case-folded), URL-encoded (quote and quote_plus, either case
of hex, once or twice), JSON-escaped, and base64 (standard and URL-safe, with
or without padding, at any byte alignment inside a longer base64 text) of the
secret and of `user:password` (an echoed Basic header).

The scrubber runs on messages only (a few per sync), never on data rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from django.conf import settings

MARKER = "[redacted]"
# Shorter strings are not redacted: a one- to three-character value ("1", "abc",
# "USD") would blank out ordinary words and figures all over the message, and a
# secret that short could not be protected by redaction anyway.
MIN_SECRET_CHARS = 4
# A base64 fragment of a secret cut out of a longer base64 text (see _base64_forms) is
# only matched when at least this long, so that it cannot match ordinary words.
MIN_FRAGMENT_CHARS = 6
# The settings holding server-wide provider secrets (read at call time). A provider
# that adds a client secret names its setting here (e.g. SCHWAB_CLIENT_SECRET).
# Client ids are not secrets: they stay visible, which helps support.
DEFAULT_SERVER_SECRET_SETTINGS = ("PLAID_SECRET", "SCHWAB_CLIENT_SECRET")
# Characters that re-quoting a URL component may leave as they are (RFC 3986 reserved).
_URL_RESERVED = ":/?#[]@!$&'()*+,;="
# What an adapter appends when it cuts a long message (providers.payload.sanitize_message).
_ELLIPSIS = "…"
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_-]+=*")

E = TypeVar("E", bound=Exception)


class Scrubber:
    """Replaces a fixed set of secrets, in all their forms, with MARKER."""

    def __init__(self, secrets: Iterable[str] = (), *, basic_pairs: Iterable[tuple[str, str]] = ()) -> None:
        secrets = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS}
        binary_forms: set[str] = set()
        for user, password in basic_pairs:
            if len(password) >= MIN_SECRET_CHARS or len(user) >= MIN_SECRET_CHARS:
                pair = f"{user}:{password}".encode()
                binary_forms |= _base64_forms(pair)
                # The Basic header's value is a secret in turn: URL-encoded or wrapped in base64 again.
                secrets.add(base64.b64encode(pair).decode("ascii"))
        text_forms: set[str] = set()
        for secret in secrets:
            text_forms |= _text_forms(secret)
            binary_forms |= _base64_forms(secret.encode())
        text_forms = {f for f in text_forms if len(f) >= MIN_SECRET_CHARS}
        binary_forms = {f for f in binary_forms if len(f) >= MIN_SECRET_CHARS}
        # Longest first, so that a form containing another one is replaced whole.
        self._text_forms = sorted(text_forms, key=len, reverse=True)
        self._binary_forms = sorted(binary_forms, key=len, reverse=True)
        alternatives = []
        if self._binary_forms:  # base64 is case-sensitive: matched as is
            alternatives.append("(?:" + "|".join(map(re.escape, self._binary_forms)) + ")")
        if self._text_forms:  # any letter case, which also covers both cases of %-hex digits
            alternatives.append("(?i:" + "|".join(map(re.escape, self._text_forms)) + ")")
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def scrub(self, text: str) -> str:
        """`text` with every form of every secret replaced by MARKER."""
        if self._pattern is None or not isinstance(text, str) or not text:
            return text
        text = self._pattern.sub(MARKER, text)
        if _ELLIPSIS in text:
            text = self._scrub_cut_tails(text)
        return text

    def scrub_all(self, texts: Iterable[str]) -> list[str]:
        """Each of `texts` scrubbed (e.g. a sync's warnings)."""
        return [self.scrub(text) for text in texts]

    def scrub_error(self, error: E) -> E:
        """`error` itself, its `message` (and `args`, and `fields` messages if any) scrubbed."""
        message = getattr(error, "message", None)
        if isinstance(message, str):
            error.message = self.scrub(message)
            error.args = (error.message,)
        fields = getattr(error, "fields", None)
        if isinstance(fields, dict):
            error.fields = {name: self.scrub_all(str(m) for m in messages) for name, messages in fields.items()}
        return error

    def _scrub_cut_tails(self, text: str) -> str:
        """A message cut short (an adapter marks the cut with an ellipsis) may end in the
        beginning of a secret: that beginning is redacted too."""
        pieces = text.split(_ELLIPSIS)
        return _ELLIPSIS.join([self._scrub_tail(piece) for piece in pieces[:-1]] + pieces[-1:])

    def _scrub_tail(self, text: str) -> str:
        cut = len(text)
        for form, fold in [(f, False) for f in self._binary_forms] + [(f, True) for f in self._text_forms]:
            for length in range(min(len(form) - 1, len(text)), MIN_SECRET_CHARS - 1, -1):
                tail, start = text[-length:], form[:length]
                if tail == start or (fold and tail.casefold() == start.casefold()):
                    cut = min(cut, len(text) - length)
                    break
        return text if cut == len(text) else text[:cut] + MARKER


def _text_forms(secret: str) -> set[str]:
    """The secret as text may be echoed in (matched in any letter case)."""
    forms = {secret, secret.casefold(), unquote(secret)}
    for safe in ("", "/", _URL_RESERVED):
        once = quote(secret, safe=safe)
        forms |= {once, quote_plus(secret, safe=safe), quote(once, safe="")}
    forms |= {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return forms


def _base64_forms(data: bytes) -> set[str]:
    """`data` in base64 (standard and URL-safe, with and without padding), whole and as the
    characters it alone determines when it sits at any offset inside longer base64 text."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            encoded = encode(b"\0" * offset + data).decode("ascii").rstrip("=")
            first_bit, end_bit = 8 * offset, 8 * (offset + len(data))
            first = -(-first_bit // 6)  # the first character with no bit of the padding
            last = end_bit // 6  # past the last character with every bit from `data`
            fragment = encoded[first:last]
            if len(fragment) >= MIN_FRAGMENT_CHARS:
                forms.add(fragment)
    return forms


def secrets_of(value: Any) -> tuple[set[str], set[tuple[str, str]]]:
    """Every secret string in `value` (credentials, connect options: every string, recursively)
    and the (user, password) pairs of the URLs among them.

    A URL's user and password count separately (each as given and decoded); a value
    that is base64 of text (a SimpleFIN setup token wraps its claim URL) counts decoded too.
    """
    secrets: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    _collect(value, secrets, pairs, depth=0)
    return secrets, pairs


def _collect(value: Any, secrets: set[str], pairs: set[tuple[str, str]], depth: int) -> None:
    if depth > 8:  # credentials are shallow; this bounds a pathological value
        return
    if isinstance(value, Mapping):
        for item in value.values():
            _collect(item, secrets, pairs, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, secrets, pairs, depth + 1)
    elif isinstance(value, str):
        value = value.strip()
        if not value or value in secrets:
            return
        secrets.add(value)
        _collect_userinfo(value, secrets, pairs)
        decoded = _base64_text(value)
        if decoded:
            _collect(decoded, secrets, pairs, depth + 1)


def _collect_userinfo(value: str, secrets: set[str], pairs: set[tuple[str, str]]) -> None:
    try:
        netloc = urlsplit(value).netloc
    except ValueError:
        return
    if "@" not in netloc:
        return
    userinfo = netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    for raw in (user, password):
        secrets |= {raw, unquote(raw)}
    pairs |= {(user, password), (unquote(user), unquote(password))}


def _base64_text(value: str) -> str:
    """The printable text `value` is the base64 of, or ''."""
    if len(value) < 8 or len(value) > 8192:
        return ""
    if not _BASE64_TEXT.fullmatch(value):
        return ""
    padded = (value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)).encode("ascii")
    for data in (padded, padded.replace(b"-", b"+").replace(b"_", b"/")):
        try:
            text = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeError):
            continue
        if text.isprintable() and len(text) >= MIN_SECRET_CHARS:
            return text.strip()
    return ""


def server_secrets() -> set[str]:
    """The server-wide provider secrets: the settings FINSYNC_SERVER_SECRET_SETTINGS names."""
    names = getattr(settings, "FINSYNC_SERVER_SECRET_SETTINGS", DEFAULT_SERVER_SECRET_SETTINGS)
    secrets: set[str] = set()
    for name in names:
        found, _ = secrets_of(getattr(settings, name, None))
        secrets |= found
    return secrets


def scrubber_for(credentials: Mapping[str, Any] | Iterable[str] | None = None) -> Scrubber:
    """A Scrubber for the secrets in `credentials` (a connection's decrypted credentials or connect
    options, or plain secret strings) and the server-wide provider secrets."""
    secrets, pairs = secrets_of(credentials)
    return Scrubber(secrets | server_secrets(), basic_pairs=pairs)


def scrub_message(text: str, secrets: Mapping[str, Any] | Iterable[str] | None = None) -> str:
    """`text` with `secrets` (credentials, options or strings) and the server secrets redacted.

    For one message; to scrub several with the same secrets, build one `scrubber_for` them.
    """
    return scrubber_for(secrets).scrub(text)
