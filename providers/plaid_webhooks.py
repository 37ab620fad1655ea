"""Plaid's webhooks: verifying them, and what each one asks of FinSync.

Plaid signs every webhook: the `Plaid-Verification` header is a JWT signed with
ES256 by a key Plaid names in the JWT's `kid` and serves as a JWK from
`/webhook_verification_key/get`. A webhook is taken only when the JWT's `alg` is
ES256 (any other, `none` included, is refused before a key is looked at), its
signature checks against Plaid's key (not expired), its `iat` is at most
MAX_AGE_SECONDS old, and the SHA-256 of the raw body equals its
`request_body_sha256` claim (compared in constant time). PyJWT does the JWT work.

Keys are cached per process (at most MAX_CACHED_KEYS); an unknown `kid` is fetched
once, and a `kid` Plaid does not know is not asked for again for
UNKNOWN_KID_SECONDS, so forged headers cannot make FinSync call Plaid for every request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt
from jwt.algorithms import ECAlgorithm

from providers.errors import ProviderError
from providers.plaid import PlaidProvider

logger = logging.getLogger("finsync.providers.plaid")

ALGORITHM = "ES256"
MAX_AGE_SECONDS = 5 * 60
# A clock a little ahead of ours is tolerated; a token from further in the future is not.
FUTURE_LEEWAY_SECONDS = 60
MAX_CACHED_KEYS = 16
UNKNOWN_KID_SECONDS = 60
MAX_UNKNOWN_KIDS = 256
MAX_HEADER_CHARS = 4096

# (webhook_type, webhook_code) -> what FinSync does.
SYNC_TRANSACTIONS = "sync_transactions"
SYNC_HOLDINGS = "sync_holdings"
NEEDS_REAUTH = "needs_reauth"
DISCONNECTED = "disconnected"
IGNORED = "ignored"
ACTIONS = {
    ("TRANSACTIONS", "SYNC_UPDATES_AVAILABLE"): SYNC_TRANSACTIONS,
    ("INVESTMENTS_TRANSACTIONS", "DEFAULT_UPDATE"): SYNC_TRANSACTIONS,
    ("HOLDINGS", "DEFAULT_UPDATE"): SYNC_HOLDINGS,
    ("ITEM", "PENDING_EXPIRATION"): NEEDS_REAUTH,
    ("ITEM", "PENDING_DISCONNECT"): NEEDS_REAUTH,
    ("ITEM", "USER_PERMISSION_REVOKED"): DISCONNECTED,
}
LOGIN_REQUIRED = "ITEM_LOGIN_REQUIRED"


class WebhookRejected(Exception):
    """The webhook is not verifiably Plaid's; the message says why (never the body or the token)."""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: the Item it is about, what to do, and Plaid's type and code (for the record)."""

    item_id: str
    action: str
    webhook_type: str
    webhook_code: str
    error_code: str = ""


class _KeyCache:
    """Plaid's verification keys by kid, bounded, shared by the threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, dict] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._unknown.clear()

    def get(self, kid: str) -> dict:
        """The JWK of `kid`, fetched from Plaid when not cached; WebhookRejected when Plaid has none."""
        now = time.monotonic()
        with self._lock:
            if kid in self._keys:
                self._keys.move_to_end(kid)
                return self._keys[kid]
            refused_at = self._unknown.get(kid)
            if refused_at is not None and now - refused_at < UNKNOWN_KID_SECONDS:
                raise WebhookRejected("unknown key id")
        try:
            key = PlaidProvider.fetch_webhook_key(kid)
        except ProviderError as error:
            with self._lock:
                self._unknown[kid] = now
                while len(self._unknown) > MAX_UNKNOWN_KIDS:
                    self._unknown.popitem(last=False)
            raise WebhookRejected(f"no verification key for this key id ({type(error).__name__})") from None
        with self._lock:
            self._keys[kid] = key
            while len(self._keys) > MAX_CACHED_KEYS:
                self._keys.popitem(last=False)
        return key


KEYS = _KeyCache()


def verify(body: bytes, header: str | None, *, now: float | None = None) -> dict:
    """The webhook's JSON body once its `Plaid-Verification` JWT checks out; WebhookRejected otherwise."""
    claims = _claims(header)
    issued = claims.get("iat")
    current = time.time() if now is None else now
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        raise WebhookRejected("no issue time")
    if current - issued > MAX_AGE_SECONDS or issued - current > FUTURE_LEEWAY_SECONDS:
        raise WebhookRejected("issued too long ago (or in the future)")
    claimed = claims.get("request_body_sha256")
    if not isinstance(claimed, str):
        raise WebhookRejected("no body hash")
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), claimed.lower().encode()):
        raise WebhookRejected("the body does not match its hash")
    try:
        data = json.loads(body)
    except ValueError:
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected("the body is not a JSON object")
    return data


def _claims(header: str | None) -> dict:
    """The JWT's claims once its algorithm, key and signature check out (its times are checked by `verify`)."""
    if not header or len(header) > MAX_HEADER_CHARS:
        raise WebhookRejected("no Plaid-Verification header")
    try:
        unverified = jwt.get_unverified_header(header)
    except jwt.PyJWTError:
        raise WebhookRejected("the Plaid-Verification header is not a JWT") from None
    # Checked before any key is looked at: `none` or an HMAC algorithm never gets further.
    if unverified.get("alg") != ALGORITHM:
        raise WebhookRejected(f"algorithm {str(unverified.get('alg'))[:20]!r} refused (only {ALGORITHM})")
    kid = unverified.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 200:
        raise WebhookRejected("no key id")
    jwk = KEYS.get(kid)
    if jwk.get("expired_at"):
        raise WebhookRejected("the key has expired")
    if jwk.get("alg") not in (None, ALGORITHM) or jwk.get("kty") != "EC":
        raise WebhookRejected("the key is not an ES256 key")
    try:
        key = ECAlgorithm.from_jwk(json.dumps(jwk))
        return jwt.decode(
            header, key=key, algorithms=[ALGORITHM], options={"require": ["iat"]}, leeway=FUTURE_LEEWAY_SECONDS
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise WebhookRejected(f"the signature does not verify ({type(error).__name__})") from None


def event(data: dict) -> WebhookEvent:
    """What a verified webhook asks: its Item and FinSync's action (IGNORED for anything else)."""
    item_id = data.get("item_id") if isinstance(data.get("item_id"), str) else ""
    webhook_type = str(data.get("webhook_type") or "")[:50]
    webhook_code = str(data.get("webhook_code") or "")[:50]
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    error_code = str(error.get("error_code") or "")[:50]
    action = ACTIONS.get((webhook_type, webhook_code), IGNORED)
    if (webhook_type, webhook_code) == ("ITEM", "ERROR"):
        action = NEEDS_REAUTH if error_code == LOGIN_REQUIRED else IGNORED
    return WebhookEvent(item_id[:200], action, webhook_type, webhook_code, error_code)
