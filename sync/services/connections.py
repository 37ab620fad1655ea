"""Connection services: create (connect), reconnect, disconnect, store and rotate credentials."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from providers.base import ConnectionSetup, Provider
from providers.errors import ProviderError
from providers.payload import sanitize_message
from providers.registry import get_provider_class, provider_slugs
from sync import selectors
from sync.audit import signals
from sync.crypto import decrypt_credentials, encrypt_credentials, rotate
from sync.errors import NotFound, SyncError, ValidationError, from_provider_error
from sync.models import Connection
from sync.scrub import scrubber_for

if TYPE_CHECKING:
    from uuid import UUID

    from django.contrib.auth.models import AbstractBaseUser

    from sync.services.oauth import AuthorizeStart


logger = logging.getLogger("finsync.connections")


@sensitive_variables("options", "cleaned", "setup")
def create_connection(
    *,
    owner: AbstractBaseUser,
    provider: str,
    name: str = "",
    options: Mapping[str, Any],
    actor: AbstractBaseUser | None,
    source: str,
    correlation_id: uuid.UUID | None = None,
    wide_bounds: bool = False,
) -> Connection:
    """Connect `owner` to `provider` with the provider's connect `options` (tokens, sizes).

    The one place connect inputs are validated: known keys, types, lengths and
    required fields here, from the provider's declared `connect_fields`; URLs,
    ports, public hosts and sizes in the provider's `connect`. A bad input
    raises ValidationError whose `fields` name it: `provider`, `name` or
    `credentials.<input>`. `wide_bounds` keeps the operator's bounds (the CLI)
    instead of the self-service limits (FINSYNC_DEMO_MAX_*) of the API and
    the admin. Every failed attempt is audited (`connection.connect_failed`).

    The provider may be called (a SimpleFIN setup token is claimed here), so no
    transaction is open until its answer is in. Secrets are stored encrypted.
    """
    correlation_id = correlation_id or uuid.uuid4()
    try:
        provider_class, cleaned, name = _validated(provider, name, options)
        try:
            setup = _connect(provider_class, cleaned, wide_bounds=wide_bounds)
        except ProviderError as error:
            # The provider may echo the secrets it was given (a setup token, an access URL, keys);
            # its other options (an environment's name) are not secrets and stay readable.
            secrets = {f.name: cleaned[f.name] for f in provider_class.connect_fields if f.secret and f.name in cleaned}
            raise scrubber_for(secrets).scrub_error(from_provider_error(error)) from None
    except SyncError as error:
        audit_connect_failed(error, provider=provider, actor=actor, source=source, correlation_id=correlation_id)
        raise
    return store_new_connection(
        owner=owner,
        provider=provider,
        name=name,
        setup=setup,
        actor=actor,
        source=source,
        correlation_id=correlation_id,
    )


@sensitive_variables("setup", "credentials_encrypted")
def store_new_connection(
    *,
    owner: AbstractBaseUser,
    provider: str,
    name: str,
    setup: ConnectionSetup,
    actor: AbstractBaseUser | None,
    source: str,
    correlation_id: uuid.UUID,
) -> Connection:
    """Save a connection the provider accepted (`setup`: credentials encrypted, config plain) and audit it."""
    credentials_encrypted = encrypt_credentials(setup.credentials)
    with transaction.atomic():
        connection = Connection.objects.create(
            owner=owner,
            provider=provider,
            name=name,
            config=setup.config,
            credentials_encrypted=credentials_encrypted,
        )
    signals.connection_created.send(
        sender=Connection,
        connection=connection,
        actor=actor,
        source=source,
        correlation_id=correlation_id,
        payload={"provider": provider, "name": name},
    )
    return connection


def audit_connect_failed(
    error: SyncError,
    *,
    provider: str,
    actor: AbstractBaseUser | None,
    source: str,
    correlation_id: UUID | None,
    connection: Connection | None = None,
) -> None:
    """Record a refused connect or reconnect attempt (`connection.connect_failed`): code and message, no secret."""
    signals.connection_connect_failed.send(
        sender=Connection,
        connection=connection,
        actor=actor,
        source=source,
        correlation_id=correlation_id,
        payload={
            "provider": str(provider)[:50],
            "code": error.code,
            "message": sanitize_message(error.message),
            "fields": sorted(error.fields),
        },
    )


@sensitive_variables("options", "cleaned", "setup")
def reconnect_connection(
    *,
    connection_id: UUID | str,
    user: AbstractBaseUser | None,
    options: Mapping[str, Any],
    source: str,
    correlation_id: UUID | None = None,
) -> Connection | AuthorizeStart:
    """Give a connection of `user` new credentials (a new login) without losing anything.

    For a provider that connects with inputs (SimpleFIN's new setup token,
    Alpaca's new keys), `options` are its connect inputs and the answer is the
    reconnected Connection. For an OAuth provider the answer is an
    `AuthorizeStart` (sync.services.oauth) whose callback reconnects. See
    `apply_reconnect` for what is kept and what is refused.
    """
    from sync.services import oauth  # oauth builds on this module

    correlation_id = correlation_id or uuid.uuid4()
    connection = selectors.owned_connections(user).filter(pk=connection_id).first() if user else None
    if connection is None:
        raise NotFound("connection not found")
    try:
        provider_class = get_provider_class(connection.provider)
    except KeyError:
        raise ValidationError(f"unknown provider {connection.provider!r}") from None
    if provider_class.oauth:
        return oauth.start_authorization(user=user, provider=connection.provider, connection=connection, source=source)
    try:
        cleaned = _validated_options(connection.provider, provider_class, options)
        try:
            setup = _connect(provider_class, cleaned, wide_bounds=source == "cli")
        except ProviderError as error:
            secrets = {f.name: cleaned[f.name] for f in provider_class.connect_fields if f.secret and f.name in cleaned}
            raise scrubber_for(secrets).scrub_error(from_provider_error(error)) from None
    except SyncError as error:
        audit_connect_failed(
            error,
            provider=connection.provider,
            actor=user,
            source=source,
            correlation_id=correlation_id,
            connection=connection,
        )
        raise
    return apply_reconnect(connection, setup, actor=user, source=source, correlation_id=correlation_id)


@sensitive_variables("setup", "credentials", "old", "adapter")
def apply_reconnect(
    connection: Connection,
    setup: ConnectionSetup,
    *,
    actor: AbstractBaseUser | None,
    source: str,
    correlation_id: UUID | None,
) -> Connection:
    """Store a new login's credentials on `connection` in place, after checking it reaches the same accounts.

    Same connection id, accounts (matched by provider id), transactions,
    holdings, user fields and history; the credentials the provider names in
    `carried_over_credentials` are kept from the old ones; the config is the
    old one updated with the new; the status becomes active and the last error
    is cleared. A login that reaches none of the connection's accounts is
    refused (ValidationError): two people's data never mix in one connection.
    Audited as `connection.reconnected` (refusals as `connection.connect_failed`).
    """
    provider_class = get_provider_class(connection.provider)
    old = decrypt_credentials(connection.credentials_encrypted) if connection.credentials_encrypted else {}
    credentials = dict(setup.credentials)
    credentials.update({k: old[k] for k in provider_class.carried_over_credentials if k in old})
    config = {**connection.config, **setup.config}
    known = set(connection.accounts.values_list("provider_account_id", flat=True))
    try:
        if known:
            adapter = provider_class(credentials=credentials, config=config)
            # A token refreshed while checking is the one to keep.
            adapter.on_credentials_changed = credentials.update
            try:
                reported = {a.provider_account_id for a in adapter.fetch_accounts().accounts}
            except ProviderError as error:
                raise scrubber_for(credentials).scrub_error(from_provider_error(error)) from None
            finally:
                adapter.close()
            if not known & reported:
                raise ValidationError(
                    "this login reaches none of the connection's accounts (a different login?): nothing was changed; "
                    "connect it as a new connection instead"
                )
    except SyncError as error:
        audit_connect_failed(
            error,
            provider=connection.provider,
            actor=actor,
            source=source,
            correlation_id=correlation_id,
            connection=connection,
        )
        raise
    encrypted = encrypt_credentials(credentials)
    old_status = connection.status
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        locked.credentials_encrypted = encrypted
        locked.config = config
        locked.status = Connection.Status.ACTIVE
        locked.last_error, locked.last_error_code, locked.last_error_at = "", "", None
        locked.save(
            update_fields=[
                "credentials_encrypted",
                "config",
                "status",
                "last_error",
                "last_error_code",
                "last_error_at",
                "updated_at",
            ]
        )
    signals.connection_reconnected.send(
        sender=Connection,
        connection=locked,
        actor=actor,
        source=source,
        correlation_id=correlation_id,
        payload={"provider": locked.provider, "from": old_status, "to": locked.status},
    )
    return locked


@sensitive_variables("credentials")
def store_credentials(connection_id: UUID | str, credentials: Mapping[str, Any]) -> None:
    """Persist credentials an adapter changed mid-sync (a rotated refresh token), at once and for good.

    Its own transaction, under a row lock: it commits before the sync's data
    transaction even begins, so a sync that fails afterwards keeps the new
    token (the old refresh token may already be dead at the provider).
    """
    encrypted = encrypt_credentials(dict(credentials))
    with transaction.atomic():
        # The UPDATE itself locks the row until this transaction commits.
        Connection.objects.filter(pk=connection_id).update(credentials_encrypted=encrypted, updated_at=timezone.now())


STAFF_DISCONNECT_PERMISSION = "sync.change_connection"


@sensitive_variables("options", "setup")
def _connect(provider_class: type[Provider], options: dict, *, wide_bounds: bool):
    """`provider_class.connect`, telling it the bounds when it takes them (an adapter written before them does not)."""
    if "wide_bounds" in inspect.signature(provider_class.connect).parameters:
        return provider_class.connect(options, wide_bounds=wide_bounds)
    return provider_class.connect(options)


@sensitive_variables("options", "cleaned", "value")
def _validated(provider: object, name: object, options: object) -> tuple[type[Provider], dict[str, str | int], str]:
    """The provider class, the options checked against its `connect_fields`, and the name; ValidationError."""
    try:
        provider_class = get_provider_class(provider)
    except (KeyError, TypeError):
        choices = ", ".join(provider_slugs())
        raise ValidationError(
            f"unknown provider (choose from {choices})", fields={"provider": [f"choose from {choices}"]}
        ) from None
    if not isinstance(name, str | None):
        raise ValidationError("name must be text", fields={"name": ["must be text"]})
    name = (name or "").strip() or provider_class.display_name
    if len(name) > 200:
        raise ValidationError("name is longer than 200 characters", fields={"name": ["at most 200 characters"]})
    cleaned = _validated_options(provider, provider_class, options)
    return provider_class, cleaned, name


@sensitive_variables("options", "cleaned", "value")
def _validated_options(provider: str, provider_class: type[Provider], options: object) -> dict[str, str | int]:
    """The connect options checked against the provider's `connect_fields`: known keys, types, lengths, required."""
    if not isinstance(options, Mapping):
        raise ValidationError("credentials must be an object", fields={"credentials": ["must be an object"]})
    accepted = {field.name: field for field in provider_class.connect_fields}
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, str | int] = {}
    for key, value in options.items():
        field = accepted.get(key) if isinstance(key, str) else None
        label = f"credentials.{str(key)[:100]}"
        if field is None:
            names = ", ".join(accepted) or "none"
            problems[label] = [f"not an input of the {provider} provider (accepted: {names})"]
        elif value is None:
            continue
        elif field.kind == "integer" and (isinstance(value, bool) or not isinstance(value, int | str)):
            problems[label] = ["must be a whole number"]
        elif field.kind == "text" and not isinstance(value, str):
            problems[label] = ["must be text"]
        elif len(str(value)) > field.max_length:
            problems[label] = [f"at most {field.max_length} characters"]
        else:
            cleaned[key] = value
    for field in provider_class.connect_fields:
        if field.required and cleaned.get(field.name) in (None, "") and f"credentials.{field.name}" not in problems:
            problems[f"credentials.{field.name}"] = ["this field is required"]
    if problems:
        first = next(iter(problems))
        raise ValidationError(f"{first}: {problems[first][0]}", fields=problems)
    return cleaned


def disconnect_connection(
    *,
    connection_id: UUID | str,
    user_id: int | UUID | str,
    source: str,
    correlation_id: uuid.UUID | None = None,
    as_staff: bool = False,
) -> Connection:
    """Mark a connection disconnected; its data and history are kept, it can no longer sync.

    The owner may disconnect their own connection (the API, staff included).
    `as_staff` is the admin console's way in: active staff holding
    `sync.change_connection` may disconnect any user's connection. Anyone else
    gets NotFound, as for a connection that does not exist. The change is
    audited as `connection.status_changed` (`to: disconnected`) with the actor
    and the source.
    """
    actor = selectors.get_user(user_id)
    connection = None
    if actor is not None:
        if as_staff and selectors.staff_may(actor, STAFF_DISCONNECT_PERMISSION):
            candidates = Connection.objects.all()
        else:
            candidates = selectors.owned_connections(actor)
        connection = candidates.filter(pk=connection_id).first()
    if connection is None:
        raise NotFound("connection not found")
    mark_disconnected(connection, actor=actor, source=source, correlation_id=correlation_id, reason="disconnected")
    return connection


def mark_disconnected(
    connection: Connection,
    *,
    actor: AbstractBaseUser | None,
    source: str,
    reason: str,
    correlation_id: uuid.UUID | None = None,
) -> bool:
    """Disconnect `connection` (data kept), tell its provider (Plaid's /item/remove) and drop what it revoked.

    Conditional, so two disconnects at once leave one status change, one call to the
    provider and one `connection.status_changed` event. A provider that cannot be
    told (down, refusing) does not stop the disconnect: the event carries a `warning`.
    Returns whether this call disconnected it.
    """
    old = connection.status
    changed = (
        Connection.objects.filter(pk=connection.pk)
        .exclude(status=Connection.Status.DISCONNECTED)
        .update(status=Connection.Status.DISCONNECTED, updated_at=timezone.now())
    )
    connection.refresh_from_db(fields=["status", "updated_at"])
    if not changed:
        return False
    payload = {"from": old, "to": connection.status, "reason": reason}
    warning = _forget_at_provider(connection)
    if warning:
        payload["warning"] = warning
    signals.connection_status_changed.send(
        sender=Connection,
        connection=connection,
        actor=actor,
        source=source,
        correlation_id=correlation_id or uuid.uuid4(),
        payload=payload,
    )
    return True


@sensitive_variables("credentials", "kept")
def _forget_at_provider(connection: Connection) -> str:
    """Tell the provider the connection is gone and store only the credentials it still needs; a warning or ""."""
    try:
        provider_class = get_provider_class(connection.provider)
    except KeyError:
        return ""
    if provider_class.on_disconnect is Provider.on_disconnect:
        return ""  # nothing to tell, nothing revoked
    credentials = decrypt_credentials(connection.credentials_encrypted) if connection.credentials_encrypted else {}
    if not credentials:
        return ""
    adapter = provider_class(credentials=credentials, config=connection.config)
    warning = ""
    try:
        kept = adapter.on_disconnect()
    except ProviderError as error:
        message = scrubber_for(credentials).scrub(sanitize_message(error.message))
        logger.warning("connection %s: the provider was not told of the disconnect: %s", connection.pk, message)
        warning = f"{provider_class.display_name} was not told of the disconnect: {message}"
        kept = {}  # told or not, a disconnected connection keeps no token that could still reach the data
    finally:
        adapter.close()
    Connection.objects.filter(pk=connection.pk).update(
        credentials_encrypted=encrypt_credentials(kept) if kept else "", updated_at=timezone.now()
    )
    return warning


def rotate_all_credentials(*, actor: AbstractBaseUser | None = None, source: str = "cli") -> int:
    """Re-encrypt every connection's credentials with the current key; returns how many."""
    count = 0
    correlation_id = uuid.uuid4()
    for pk in Connection.objects.exclude(credentials_encrypted="").values_list("pk", flat=True).iterator():
        with transaction.atomic():
            connection = Connection.objects.select_for_update().get(pk=pk)
            connection.credentials_encrypted = rotate(connection.credentials_encrypted)
            connection.updated_at = timezone.now()
            connection.save(update_fields=["credentials_encrypted", "updated_at"])
        signals.connection_credentials_rotated.send(
            sender=Connection,
            connection=connection,
            actor=actor,
            source=source,
            correlation_id=correlation_id,
        )
        count += 1
    return count
