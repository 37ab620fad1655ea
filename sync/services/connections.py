"""Connection services: create (connect), disconnect, rotate credentials."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from providers.errors import ProviderError
from providers.registry import get_provider_class, provider_slugs
from sync import selectors
from sync.audit import signals
from sync.crypto import encrypt_credentials, rotate
from sync.errors import NotFound, ValidationError, from_provider_error
from sync.models import Connection
from sync.scrub import scrubber_for


def create_connection(
    *,
    owner,
    provider: str,
    name: str = "",
    options: Mapping[str, Any],
    actor,
    source: str,
    correlation_id: uuid.UUID | None = None,
) -> Connection:
    """Connect `owner` to `provider` with the provider's connect `options` (tokens, sizes).

    The provider may be called (a SimpleFIN setup token is claimed here), so no
    transaction is open until its answer is in. Secrets are stored encrypted.
    """
    try:
        provider_class = get_provider_class(provider)
    except KeyError:
        choices = ", ".join(provider_slugs())
        raise ValidationError(
            f"unknown provider {provider!r} (choose from {choices})", fields={"provider": [f"choose from {choices}"]}
        ) from None
    try:
        setup = provider_class.connect(options)
    except ProviderError as error:
        # The provider may echo what it was given (a setup token, an access URL or token).
        raise scrubber_for(options).scrub_error(from_provider_error(error)) from None
    name = (name or "").strip() or provider_class.display_name
    if len(name) > 200:
        raise ValidationError("name is longer than 200 characters", fields={"name": ["at most 200 characters"]})
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
        correlation_id=correlation_id or uuid.uuid4(),
        payload={"provider": provider, "name": name},
    )
    return connection


STAFF_DISCONNECT_PERMISSION = "sync.change_connection"


def disconnect_connection(
    *,
    connection_id,
    user_id,
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
    old = connection.status
    # Conditional, so two disconnects at once leave one status change and one event.
    changed = (
        Connection.objects.filter(pk=connection.pk)
        .exclude(status=Connection.Status.DISCONNECTED)
        .update(status=Connection.Status.DISCONNECTED, updated_at=timezone.now())
    )
    connection.refresh_from_db(fields=["status", "updated_at"])
    if changed:
        signals.connection_status_changed.send(
            sender=Connection,
            connection=connection,
            actor=actor,
            source=source,
            correlation_id=correlation_id or uuid.uuid4(),
            payload={"from": old, "to": connection.status, "reason": "disconnected"},
        )
    return connection


def rotate_all_credentials(*, actor=None, source: str = "cli") -> int:
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
