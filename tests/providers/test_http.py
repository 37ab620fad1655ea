"""The shared HTTP layer against a loopback server: retries, limits, status mapping, parsing, hygiene."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfigError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.http import ProviderHTTP, parse_json, parse_retry_after, raise_for_status, strip_userinfo
from tests.fakes.server import Fault, FaultQueue, LiveServer, respond

SECRET = "pa55-w0rd-secret"


class EchoApp:
    """Answers `{"value": 1.10, "count": 3}` unless a fault is queued; counts requests."""

    def __init__(self) -> None:
        self.faults = FaultQueue()
        self.hits = 0
        self.auth_headers: list[str] = []

    def __call__(self, environ, start_response):
        self.hits += 1
        self.auth_headers.append(environ.get("HTTP_AUTHORIZATION", ""))
        body = b'{"value": 1.10, "count": 3, "big": 12345678901234567890.123456789}'
        return respond(start_response, 200, body, {"Content-Type": "application/json"}, self.faults.take(""))


@pytest.fixture
def echo():
    app = EchoApp()
    with LiveServer(app) as server:
        app.url = server.url
        yield app


@pytest.fixture
def client():
    http = ProviderHTTP("Fakebank")
    yield http
    http.close()


def test_json_numbers_are_decimals_and_userinfo_becomes_basic_auth(echo, client):
    url = echo.url.replace("http://", f"http://user:{SECRET}@") + "/x"
    response = client.request("GET", url, idempotent=True)
    data = parse_json(response, "echo")
    assert data["value"] == Decimal("1.10") and isinstance(data["value"], Decimal)
    assert data["big"] == Decimal("12345678901234567890.123456789")
    assert data["count"] == 3
    assert echo.auth_headers[0].startswith("Basic ")
    assert strip_userinfo(url) == (echo.url + "/x", ("user", SECRET))


def test_5xx_is_retried_for_idempotent_requests_only(echo, client):
    echo.faults.add(Fault(status=502, times=2))
    assert client.request("GET", echo.url, idempotent=True).status == 200
    assert echo.hits == 3
    echo.faults.add(Fault(status=500))
    response = client.request("POST", echo.url, idempotent=False)
    assert response.status == 500 and echo.hits == 4
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        raise_for_status(response, "Fakebank")


def test_retries_are_bounded(echo, client, settings):
    settings.FINSYNC_HTTP_MAX_RETRIES = 3
    echo.faults.add(Fault(status=503, times=10))
    assert client.request("GET", echo.url, idempotent=True).status == 503
    assert echo.hits == 4


def test_connection_refused_is_unavailable(client, caplog):
    caplog.set_level(logging.DEBUG)
    server = LiveServer(EchoApp())
    url = server.url.replace("http://", f"http://user:{SECRET}@")
    server._server.server_close()  # the port is now closed
    with pytest.raises(ProviderUnavailable) as excinfo:
        client.request("GET", url, idempotent=True)
    assert "did not answer: connection failed" in excinfo.value.message
    assert SECRET not in caplog.text and SECRET not in str(excinfo.value)


def test_cut_short_body_is_retried_then_unavailable(echo, client):
    echo.faults.add(Fault(truncate_to=10, times=3))
    with pytest.raises(ProviderUnavailable, match="cut short"):
        client.request("GET", echo.url, idempotent=True)
    assert echo.hits == 3
    echo.faults.add(Fault(truncate_to=10))
    assert client.request("GET", echo.url, idempotent=True).status == 200  # the retry got it whole


def test_read_timeout(echo, client, settings):
    settings.FINSYNC_HTTP_READ_TIMEOUT = 0.1
    settings.FINSYNC_HTTP_MAX_RETRIES = 0
    echo.faults.add(Fault(sleep=0.4))
    with pytest.raises(ProviderUnavailable, match="read timed out"):
        client.request("GET", echo.url, idempotent=True)


def test_response_size_is_bounded(echo, client, settings):
    settings.FINSYNC_HTTP_MAX_RESPONSE_BYTES = 1000
    echo.faults.add(Fault(body=b"x" * 5000))
    with pytest.raises(ProviderBadResponse, match="larger than 1000 bytes"):
        client.request("GET", echo.url, idempotent=True)
    assert client.request("GET", echo.url, idempotent=True).status == 200


def test_https_required_unless_allowed(echo, client, settings):
    settings.FINSYNC_ALLOW_HTTP_PROVIDERS = False
    with pytest.raises(ProviderConfigError, match="must use https") as excinfo:
        client.request("GET", echo.url.replace("http://", f"http://u:{SECRET}@"), idempotent=True)
    assert SECRET not in excinfo.value.message
    with pytest.raises(ProviderConfigError, match="not an http"):
        client.request("GET", "ftp://example.com/x", idempotent=True)
    assert echo.hits == 0


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"Retry-After": "30"}, ProviderRateLimited, 30),
        (429, {}, ProviderRateLimited, None),
        (401, {}, ProviderAuthError, None),
        (403, {}, ProviderAuthError, None),
        (503, {}, ProviderUnavailable, None),
        (404, {}, ProviderUnavailable, None),
    ],
)
def test_status_mapping(echo, client, status, headers, error, retry_after):
    echo.faults.add(Fault(status=status, headers=headers, times=3))
    response = client.request("GET", echo.url, idempotent=status != 503)
    with pytest.raises(error) as excinfo:
        raise_for_status(response, "Fakebank")
    assert excinfo.value.retry_after == retry_after


def test_retry_after_forms():
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=45), usegmt=True), now=now) == 45
    assert parse_retry_after("Mon, 15 Jun 2026 11:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("999999999", now=now) == 86400


def test_invalid_json_is_a_bad_response(echo, client):
    echo.faults.add(Fault(body=b'{"value": 1.1'))
    with pytest.raises(ProviderBadResponse, match="not valid JSON"):
        parse_json(client.request("GET", echo.url, idempotent=True), "echo")


JSON_DOCUMENTS = [
    b'{"amount": 12.30, "count": 3, "big": 123456789012345678901234567890, "tiny": 1e-400}',
    b'{"a": 1, "a": 2}',  # the last duplicate wins, as in the json module
    b'[-0, 0.0, -0.0, 1E+3, "caf\\u00e9", "\\ud83d\\ude00", null, true, false]',
    b"NaN",  # refused by msgspec: the json module reads it (the adapters then refuse a non-finite number)
    b'{"x": Infinity}',
    b'"\\ud800"',  # a lone surrogate
    b'\xef\xbb\xbf{"with": "BOM"}',
    '{"as": "text"}',
]


@pytest.mark.parametrize("document", JSON_DOCUMENTS)
def test_parse_json_reads_what_the_json_module_reads(document):
    expected = json.loads(document, parse_float=Decimal)
    parsed = parse_json(document, "test")
    assert repr(parsed) == repr(expected)  # same values and same types (Decimal('1.10') keeps its digits)


@pytest.mark.parametrize("document", [b'{"a": ', b'{"a": 1} x', b'"\xff"', b"", "{'single': 'quotes'}"])
def test_parse_json_refuses_what_the_json_module_refuses(document):
    with pytest.raises(ProviderBadResponse, match="test: the response is not valid JSON"):
        parse_json(document, "test")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Decimal(str(d)))
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@pytest.mark.slow
@hypothesis_settings(max_examples=300, deadline=None)
@given(json_values)
def test_parse_json_matches_the_json_module_on_any_document(value):
    document = json.dumps(value, default=str).encode()
    assert repr(parse_json(document, "test")) == repr(json.loads(document, parse_float=Decimal))
