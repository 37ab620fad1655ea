"""The Scrubber alone: every form of a secret a provider may echo is redacted, nothing else is."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from sync.scrub import MARKER, Scrubber, scrub_message, scrubber_for, secrets_of

USER, PASSWORD = "sf-user", "p4ss!w0rd$X"
ACCESS_URL = f"https://{USER}:{PASSWORD}@bridge.example.test/simplefin"
PAIR = f"{USER}:{PASSWORD}".encode()


def b64_forms(data: bytes) -> list[str]:
    forms = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode()
        forms += [whole, whole.rstrip("=")]
    return forms


ECHOES = [
    PASSWORD,
    PASSWORD.upper(),
    PASSWORD.lower(),
    PASSWORD.casefold(),
    quote(PASSWORD, safe=""),
    quote(PASSWORD, safe="").lower(),  # lower-case hex digits
    quote_plus(PASSWORD),
    quote(quote(PASSWORD, safe=""), safe=""),
    quote(ACCESS_URL, safe=""),
    quote_plus(ACCESS_URL).lower(),
    ACCESS_URL.upper(),
    *b64_forms(PASSWORD.encode()),
    *b64_forms(PAIR),  # an echoed Basic header, padded or not, standard or URL-safe
    *b64_forms(ACCESS_URL.encode()),
]


@pytest.mark.parametrize("echo", ECHOES)
def test_every_form_of_a_credential_is_redacted(echo):
    scrubber = scrubber_for({"access_url": ACCESS_URL})
    text = scrubber.scrub(f"the server said: {echo} was refused")
    assert text.startswith("the server said: ") and text.endswith(" was refused")
    assert MARKER in text
    assert echo not in text
    assert PASSWORD.lower() not in text.lower()


def test_basic_header_of_a_pair_inside_longer_base64_is_redacted():
    # The password at each of the three byte alignments inside a longer base64 text.
    scrubber = scrubber_for({"access_url": ACCESS_URL})
    for prefix in (b"x:", b"xy:", b"xyz:"):
        encoded = base64.b64encode(prefix + PASSWORD.encode() + b"!").decode()
        text = scrubber.scrub(f"Authorization: Basic {encoded}")
        assert MARKER in text, prefix


def test_the_user_and_the_plain_password_count_separately():
    scrubber = scrubber_for({"access_url": ACCESS_URL})
    assert scrubber.scrub(f"user {USER} / password {PASSWORD}") == f"user {MARKER} / password {MARKER}"


def test_nested_credentials_and_setup_tokens():
    claim_url = "https://bridge.example.test/simplefin/claim/CLAIM-7788"
    token = base64.b64encode(claim_url.encode()).decode()
    secrets, pairs = secrets_of({"outer": {"inner": ["tok-0001-abcd", 42, None]}, "setup_token": token})
    assert {"tok-0001-abcd", token, claim_url} <= secrets
    assert pairs == set()
    assert scrub_message(f"claim {claim_url} failed", {"setup_token": token}) == f"claim {MARKER} failed"


def test_server_secrets_named_in_settings(settings):
    from django.conf import settings as configured

    # The project names both provider client secrets; a setting it does not name is not scrubbed.
    assert "SCHWAB_CLIENT_SECRET" in configured.FINSYNC_SERVER_SECRET_SETTINGS
    settings.FINSYNC_SERVER_SECRET_SETTINGS = ("PLAID_SECRET",)
    settings.PLAID_SECRET = "plaid-secret-9911"
    settings.SCHWAB_CLIENT_SECRET = "schwab+secret/42"
    settings.PLAID_CLIENT_ID = "client-id-5566"
    assert scrub_message("PLAID-SECRET-9911 schwab%2Bsecret%2F42 client-id-5566") == (
        f"{MARKER} schwab%2Bsecret%2F42 client-id-5566"
    )
    settings.FINSYNC_SERVER_SECRET_SETTINGS = ("PLAID_SECRET", "SCHWAB_CLIENT_SECRET")
    # The client id is not a secret: it stays readable.
    assert scrub_message("PLAID-SECRET-9911 schwab%2Bsecret%2F42 client-id-5566") == (
        f"{MARKER} {MARKER} client-id-5566"
    )


def test_short_secrets_and_ordinary_text_are_left_alone():
    scrubber = Scrubber(["abc", "", "USD"])
    assert not scrubber
    text = "the abc of USD 12.50 (code abc)"
    assert scrubber.scrub(text) == text
    scrubber = scrubber_for({"access_url": ACCESS_URL})
    text = "Plaid refused the request (INVALID_FIELD: the account is closed; retry later)"
    assert scrubber.scrub(text) == text


def test_a_secret_cut_by_an_ellipsis_loses_its_beginning_too():
    scrubber = scrubber_for({"token": "access-sandbox-0123456789"})
    assert scrubber.scrub("token access-sandbox-01…") == f"token {MARKER}…"
    assert scrubber.scrub("(X: token ACCESS-SANDBOX-012…)") == f"(X: token {MARKER}…)"
    assert scrubber.scrub("ends acc…") == "ends acc…"  # under the minimum length: left alone


def test_scrub_error_scrubs_message_args_and_fields():
    from sync.errors import ValidationError

    error = ValidationError(f"bad {PASSWORD}", fields={"access_url": [f"not {ACCESS_URL}"]})
    assert scrubber_for({"access_url": ACCESS_URL}).scrub_error(error) is error
    assert error.message == str(error) == f"bad {MARKER}"
    assert error.fields == {"access_url": [f"not {MARKER}"]}
