"""OAuth2 connections: the authorize start (a single-use state) and the callback that finishes it.

The flow, for a new connection or to reconnect one (Schwab):
1. `start_authorization` stores a random `state` (its SHA-256 only), bound to the
   user and the purpose, valid FINSYNC_OAUTH_STATE_SECONDS, and returns the
   provider's authorize URL carrying it;
2. the user logs in at the provider, which redirects the browser to the
   callback with `code` and `state`;
3. `finish_authorization` checks the state before anything else (unknown,
   expired, used, another user's: refused, nothing stored, audited as
   `connection.connect_failed` with code `oauth_state_invalid`), consumes it,
   exchanges the code and creates the connection, or reconnects it
   (sync.services.connections.apply_reconnect).
The user is known from the state alone: the browser landing on the callback
may have no session (an API client started the flow).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from providers.errors import ProviderError
from providers.registry import get_provider_class, provider_slugs
from sync.errors import OAuthStateInvalid, SyncError, ValidationError, from_provider_error
from sync.models import Connection, OAuthState
from sync.scrub import scrubber_for
from sync.services.connections import apply_reconnect, audit_connect_failed, store_new_connection

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class AuthorizeStart:
    """Where to send the user's browser, and the state that will bring them back."""

    authorize_url: str
    state: str
    expires_at: datetime

    def as_dict(self) -> dict:
        return {"authorize_url": self.authorize_url, "state": self.state, "expires_at": self.expires_at.isoformat()}


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _oauth_provider(provider: str):
    try:
        provider_class = get_provider_class(provider)
    except (KeyError, TypeError):
        oauth = ", ".join(s for s in provider_slugs() if get_provider_class(s).oauth)
        raise ValidationError(
            f"unknown provider (OAuth providers: {oauth})", fields={"provider": [f"choose from {oauth}"]}
        ) from None
    if not provider_class.oauth:
        raise ValidationError(
            f"{provider} does not connect through a login page: create the connection with its inputs",
            fields={"provider": ["not an OAuth provider"]},
        )
    missing = provider_class.missing_settings()
    if missing:
        raise ValidationError(
            f"{provider_class.display_name} is not configured on this server: set {', '.join(missing)}",
            fields={"provider": [f"missing settings: {', '.join(missing)}"]},
        )
    return provider_class


def start_authorization(
    *, user: AbstractBaseUser | None, provider: str, source: str, name: str = "", connection: Connection | None = None
) -> AuthorizeStart:
    """A single-use state for `user` (a new connection named `name`, or reconnecting `connection`) and the
    provider's authorize URL carrying it. ValidationError when the provider is not an OAuth one or not configured."""
    provider_class = _oauth_provider(provider)
    if not isinstance(name, str) or len(name.strip()) > 200:
        raise ValidationError("name is longer than 200 characters", fields={"name": ["at most 200 characters"]})
    state = secrets.token_urlsafe(32)
    now = timezone.now()
    expires_at = now + timedelta(seconds=int(getattr(settings, "FINSYNC_OAUTH_STATE_SECONDS", 600)))
    url = provider_class.authorize_url(state)
    OAuthState.objects.create(
        state_digest=_digest(state),
        user=user,
        provider=provider,
        purpose=OAuthState.Purpose.RECONNECT if connection is not None else OAuthState.Purpose.CONNECT,
        connection=connection,
        name=(name or "").strip(),
        source=source,
        created_at=now,
        expires_at=expires_at,
    )
    return AuthorizeStart(authorize_url=url, state=state, expires_at=expires_at)


def _consume(state: str, *, expected_user: AbstractBaseUser | None, provider: str | None) -> OAuthState:
    """The state's record, marked used; OAuthStateInvalid (nothing changed) when it may not be used."""
    record = None
    if isinstance(state, str) and 0 < len(state) <= 200:
        record = OAuthState.objects.select_related("user", "connection").filter(state_digest=_digest(state)).first()
    now = timezone.now()
    problem = ""
    if record is None:
        problem = "unknown"
    elif expected_user is not None and record.user_id != expected_user.pk:
        problem = "another user's"
    elif provider is not None and record.provider != provider:
        problem = "another provider's"
    elif record.used_at is not None:
        problem = "used already"
    elif record.expires_at <= now:
        problem = "expired"
    # Conditional, so two callbacks with one state cannot both pass.
    elif not OAuthState.objects.filter(pk=record.pk, used_at__isnull=True).update(used_at=now):
        problem = "used already"
    if problem:
        raise OAuthStateInvalid(
            f"this authorization link is {problem}: start the connection again (Connect, or Reconnect)",
            fields={"state": [problem]},
        )
    return record


@sensitive_variables("code", "setup")
def finish_authorization(
    *,
    state: str,
    code: str,
    source: str,
    expected_user: AbstractBaseUser | None = None,
    provider: str | None = None,
    error: str = "",
) -> Connection:
    """The callback: check and consume `state`, exchange `code`, create or reconnect the connection.

    `expected_user` (the CLI's --user, a signed-in browser) must be the state's
    user. `error` is the provider's own `error` parameter (the user declined).
    Every refusal is audited as `connection.connect_failed`; nothing is stored.
    """
    correlation_id = uuid.uuid4()
    try:
        record = _consume(state, expected_user=expected_user, provider=provider)
    except SyncError as failure:
        actor = expected_user if expected_user is not None and expected_user.is_authenticated else None
        audit_connect_failed(
            failure, provider=provider or "", actor=actor, source=source, correlation_id=correlation_id
        )
        raise
    provider_class = get_provider_class(record.provider)
    try:
        if error:
            raise ValidationError(f"{provider_class.display_name} did not authorize: {error[:100]}")
        try:
            setup = provider_class.exchange_code(code)
        except ProviderError as failure:
            raise scrubber_for({"code": code}).scrub_error(from_provider_error(failure)) from None
    except SyncError as failure:
        audit_connect_failed(
            failure,
            provider=record.provider,
            actor=record.user,
            source=source,
            correlation_id=correlation_id,
            connection=record.connection,
        )
        raise
    if record.purpose == OAuthState.Purpose.RECONNECT:
        return apply_reconnect(
            record.connection, setup, actor=record.user, source=source, correlation_id=correlation_id
        )
    return store_new_connection(
        owner=record.user,
        provider=record.provider,
        name=record.name or provider_class.display_name,
        setup=setup,
        actor=record.user,
        source=source,
        correlation_id=correlation_id,
    )


def callback_parameters(url: str) -> tuple[str, str, str]:
    """(state, code, error) of the URL a browser landed on, the code URL-decoded (Schwab's ends in `%40`)."""
    if not isinstance(url, str) or len(url) > 8192:
        raise ValidationError("give the whole URL the browser landed on", fields={"redirected_url": ["not a URL"]})
    query = parse_qs(urlsplit(url.strip()).query)
    first = {key: values[0] for key, values in query.items() if values}
    if not first.get("state") or not (first.get("code") or first.get("error")):
        raise ValidationError(
            "the URL carries no code and state: paste the whole address the browser landed on",
            fields={"redirected_url": ["no code and state"]},
        )
    return first["state"], first.get("code", ""), first.get("error", "")
