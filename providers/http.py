"""The HTTP behaviour every network adapter shares.

One `ProviderHTTP` per adapter instance wraps one `requests.Session` and gives:
- connect/read timeouts on every call (settings FINSYNC_HTTP_CONNECT_TIMEOUT /
  FINSYNC_HTTP_READ_TIMEOUT, read at call time);
- retries with exponential backoff and jitter for idempotent requests that met
  a 5xx or a broken connection (never for 429, never for a one-time claim);
- 429 -> ProviderRateLimited with `retry_after` from Retry-After (seconds or an
  HTTP-date), 401/403 -> ProviderAuthError, other failures -> ProviderUnavailable;
- a bound on the response size, and JSON parsed with `Decimal` for every number
  that has a fraction, so money never passes through a float;
- https only, unless settings.FINSYNC_ALLOW_HTTP_PROVIDERS (tests, local fakes).

Error messages and log lines name the provider and the host, never a URL's
user info, a query string, a header or a body: credentials cannot leak through
them.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec
import requests
from django.conf import settings

from providers import netguard
from providers.base import Provider
from providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfigError,
    ProviderRateLimited,
    ProviderUnavailable,
)

logger = logging.getLogger("finsync.providers.http")

DEFAULT_MAX_RETRIES = 2  # after the first attempt
DEFAULT_BACKOFF_SECONDS = 0.5  # doubled on each retry, plus up to 100% jitter
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_PAGES = 2000
MAX_RETRY_AFTER_SECONDS = 24 * 3600
CHUNK_BYTES = 1024 * 1024  # read a body in few pieces: each one needs the GIL back from the mapping thread
REQUEST_HEAD_START = 0.001  # seconds: see Prefetch


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_pages() -> int:
    """How many pages (or window chunks) one fetch may request before it gives up."""
    return int(_setting("FINSYNC_HTTP_MAX_PAGES", DEFAULT_MAX_PAGES))


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response: status, headers and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def safe_location(url: str) -> str:
    """`scheme://host[:port]` of a URL: what may appear in messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}"


def strip_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """Split `https://user:pass@host/path` into the URL without user info and (user, pass)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), auth


def require_safe_scheme(url: str, what: str, *, field: str | None = None) -> None:
    """Refuse anything but a well-formed https URL (and http when FINSYNC_ALLOW_HTTP_PROVIDERS is set).

    Well-formed: it parses, names a host, and its port (if any) is a number in
    1-65535. Messages name `what`, never the URL (it may carry a password);
    `field` is the connect input the error is reported on.
    """
    if not isinstance(url, str):
        raise ProviderConfigError(f"{what} must be text", field=field)
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise ProviderConfigError(f"{what} contains spaces or control characters", field=field)
    try:
        parts = urlsplit(url)
        valid_host = bool(parts.hostname)
    except ValueError:
        raise ProviderConfigError(f"{what} is not a valid URL", field=field) from None
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or (port is None and parts.netloc.rsplit("@", 1)[-1].endswith(":")):
        raise ProviderConfigError(f"{what} has a port that is not a number between 1 and 65535", field=field)
    scheme = (parts.scheme or "").lower()
    if scheme == "https" and valid_host:
        return
    if scheme == "http" and valid_host:
        if _setting("FINSYNC_ALLOW_HTTP_PROVIDERS", False):
            return
        raise ProviderConfigError(
            f"{what} must use https (plain http is allowed only with FINSYNC_ALLOW_HTTP_PROVIDERS)", field=field
        )
    raise ProviderConfigError(f"{what} is not an http(s) URL", field=field)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0, math.ceil(seconds)), MAX_RETRY_AFTER_SECONDS)


def parse_json(response: HttpResponse | str | bytes, what: str) -> Any:
    """The JSON body (of a response, or its text) with fractional numbers as Decimal; ProviderBadResponse when
    it is not JSON.

    msgspec reads it (twice as fast as the json module on a provider's pages);
    what msgspec refuses (NaN and Infinity literals, lone surrogates, a BOM,
    or plain garbage) is read by the json module as before, which accepts the
    same documents otherwise and gives the same values.
    """
    data = response.body if isinstance(response, HttpResponse) else response
    try:
        return _JSON.decode(data)
    except (msgspec.DecodeError, ValueError):
        pass
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ProviderBadResponse(f"{what}: the response is not valid JSON (it may have been cut short)") from None


_JSON = msgspec.json.Decoder(float_hook=Decimal)


def raise_for_status(response: HttpResponse, provider: str) -> None:
    """Map a non-2xx status to the provider error family (used when the body says nothing better)."""
    status = response.status
    if response.ok:
        return
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        hint = f"; retry after {retry_after} seconds" if retry_after is not None else ""
        raise ProviderRateLimited(f"{provider} is rate limiting requests{hint}", retry_after=retry_after)
    if status in (401, 403):
        raise ProviderAuthError(f"{provider} refused the stored credentials (HTTP {status}); reconnect the account")
    if status == 402:
        raise ProviderUnavailable(f"{provider} requires payment for this connection (HTTP 402)")
    if status >= 500:
        raise ProviderUnavailable(f"{provider} is unavailable (HTTP {status}); retry later")
    raise ProviderUnavailable(f"{provider} rejected the request (HTTP {status})")


class ProviderHTTP:
    """The one HTTP session of an adapter instance. Use from one thread; call `close()` when done."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "FinSync/0.1"
        self.requests_made = 0
        # Requests to user-supplied URLs go through their own session, pinned to the address
        # each request checked (netguard); created on first use.
        self._pinned_session: requests.Session | None = None

    def close(self) -> None:
        self.session.close()
        if self._pinned_session is not None:
            self._pinned_session.close()

    def _session_for(self, url: str, what: str, public_only: bool) -> requests.Session:
        """The session to send `url` with: for a user-supplied URL, one pinned to its checked public address."""
        if not public_only or netguard.private_hosts_allowed():
            return self.session
        target = netguard.resolve_public(url, what)  # HostRefused: nothing is sent
        if self._pinned_session is None:
            self._pinned_session = requests.Session()
            self._pinned_session.headers["User-Agent"] = "FinSync/0.1"
            # No proxies or .netrc from the environment: the request goes to the checked address only.
            self._pinned_session.trust_env = False
        current = self._pinned_session.get_adapter("https://")
        if not isinstance(current, netguard.PinnedAdapter) or current.target != target:
            adapter = netguard.PinnedAdapter(target)
            for prefix in ("https://", "http://"):
                self._pinned_session.mount(prefix, adapter)
            current.close()  # the pools of the previous address
        return self._pinned_session

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        params: Any = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        what: str = "the provider URL",
        public_only: bool = False,
    ) -> HttpResponse:
        """Send one request (retried when `idempotent`) and read the whole body.

        Returns the final response whatever its status; callers map non-2xx
        bodies (e.g. Plaid's error codes) or call `raise_for_status`.
        `public_only` marks a URL a user supplied or a provider returned: every
        attempt resolves its host, refuses a non-public one (netguard.HostRefused,
        before anything is sent) and connects to the address it checked.
        """
        require_safe_scheme(url, what)
        url, url_auth = strip_userinfo(url)
        auth = auth or url_auth
        retries = int(_setting("FINSYNC_HTTP_MAX_RETRIES", DEFAULT_MAX_RETRIES)) if idempotent else 0
        location = safe_location(url)
        attempt = 0
        while True:
            attempt += 1
            session = self._session_for(url, what, public_only)
            try:
                response = self._send(session, method, url, params, json_body, data, headers, auth)
            except _TransportError as error:
                if attempt <= retries:
                    self._pause(attempt, location, error.reason)
                    continue
                logger.warning(
                    "%s: %s at %s, giving up after %d attempts", self.provider, error.reason, location, attempt
                )
                raise ProviderUnavailable(f"{self.provider} did not answer: {error.reason}; retry later") from None
            if response.status >= 500 and attempt <= retries:
                self._pause(attempt, location, f"HTTP {response.status}")
                continue
            return response

    def _pause(self, attempt: int, location: str, reason: str) -> None:
        base = float(_setting("FINSYNC_HTTP_BACKOFF_SECONDS", DEFAULT_BACKOFF_SECONDS))
        # Jitter spreads retries of many workers apart; it is not security-relevant.
        delay = base * 2 ** (attempt - 1) * (1 + random.random())  # noqa: S311
        logger.info("%s: %s at %s, retry %d in %.2fs", self.provider, reason, location, attempt, delay)
        time.sleep(delay)

    def _send(self, session, method, url, params, json_body, data, headers, auth) -> HttpResponse:
        timeout = (
            float(_setting("FINSYNC_HTTP_CONNECT_TIMEOUT", 5.0)),
            float(_setting("FINSYNC_HTTP_READ_TIMEOUT", 30.0)),
        )
        limit = int(_setting("FINSYNC_HTTP_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))
        self.requests_made += 1
        try:
            with session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=dict(headers or {}),
                auth=auth,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            ) as raw:
                declared = raw.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise ProviderBadResponse(f"{self.provider} sent a response larger than {limit} bytes")
                chunks, size = [], 0
                for chunk in raw.iter_content(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise ProviderBadResponse(f"{self.provider} sent a response larger than {limit} bytes")
                    chunks.append(chunk)
                return HttpResponse(status=raw.status_code, headers=raw.headers, body=b"".join(chunks))
        # Only the exception's type is kept: its text can carry the URL.
        except requests.exceptions.ConnectTimeout:
            raise _TransportError("connection timed out") from None
        except requests.exceptions.ReadTimeout:
            raise _TransportError("read timed out") from None
        except requests.exceptions.ChunkedEncodingError:
            raise _TransportError("the response was cut short") from None
        except requests.exceptions.ConnectionError:
            raise _TransportError("connection failed") from None
        except requests.exceptions.RequestException as error:
            raise _TransportError(f"request failed ({type(error).__name__})") from None


class Prefetch:
    """A worker thread that fetches the next page while the caller maps the current one.

    After handing a call to the worker, `submit` pauses the caller for
    REQUEST_HEAD_START so that the request goes out first: a thread waiting
    for the GIL gets it only after the interpreter's switch interval (5 ms),
    by which time the caller has mapped the page, and the server would start
    on the next one only then. (Measured on the Plaid benchmark: waiting for
    the worker to start instead is slower, as both then contend for the GIL.)
    One call at a time; use it as a context manager: the exit waits for a call
    in flight and cancels one not started.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        future = self._executor.submit(fn, *args)
        time.sleep(REQUEST_HEAD_START)
        return future

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class _TransportError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HTTPProvider(Provider):
    """Base of adapters that speak HTTP: one `ProviderHTTP` (one requests.Session) per adapter instance,
    named after the provider in messages, closed with the adapter."""

    def __init__(self, *, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        super().__init__(credentials=credentials, config=config)
        self.http = ProviderHTTP(self.display_name)

    def close(self) -> None:
        self.http.close()
