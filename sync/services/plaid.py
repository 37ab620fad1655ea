"""Plaid's side of connecting and staying in step: Link tokens, and what Plaid's webhooks ask.

- `create_link_token`: a token for Plaid Link (the widget where the user logs in
  to their bank), normal or in update mode for one of the user's connections.
  The `public_token` Link gives back is exchanged by the connect service
  (`create_connection` with `{"public_token": ...}`).
- `handle_plaid_webhook`: verify a webhook (providers.plaid_webhooks) and act on
  the connections of its Item: request a sync, mark the connection as needing
  re-authentication, or disconnect it. An unverified webhook changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from providers import plaid_webhooks as webhooks
from providers.errors import ProviderError
from providers.plaid import PlaidProvider
from sync import selectors
from sync.crypto import decrypt_credentials
from sync.errors import NotFound, ValidationError, WebhookUnverified, from_provider_error
from sync.models import Connection, Source
from sync.scrub import scrubber_for
from sync.services.connections import mark_disconnected
from sync.services.handlers import mark_needs_reauth
from sync.services.jobs import request_sync

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


logger = logging.getLogger("finsync.webhooks")

# Fixed: a user's client_user_id is the same on every host and after a SECRET_KEY change.
_CLIENT_USER_NAMESPACE = uuid.UUID("0c6f6f7e-3f4b-4d2a-9a55-5d1e8f0b7c21")
PLAID = "plaid"


@dataclass(frozen=True)
class LinkToken:
    link_token: str
    expiration: str


def client_user_id(user: AbstractBaseUser | None) -> str:
    """Plaid's `user.client_user_id`: stable per user, and neither their username nor their email."""
    return str(uuid.uuid5(_CLIENT_USER_NAMESPACE, f"finsync-user:{user.pk}"))


def webhook_url() -> str:
    """Where Plaid sends this deployment's webhooks; "" when FINSYNC_PUBLIC_URL is not set."""
    base = (settings.FINSYNC_PUBLIC_URL or "").strip().rstrip("/")
    return f"{base}{reverse('plaid-webhook')}" if base else ""


@sensitive_variables("access_token", "credentials")
def create_link_token(
    *, user: AbstractBaseUser | None, investments: bool = False, connection_id: uuid.UUID | None = None
) -> LinkToken:
    """A Plaid Link token for `user`: to add an Item, or (with `connection_id`) Link's update mode for it.

    Update mode is for the user's own Plaid connection that is not disconnected
    (typically one that needs re-authentication); anything else is NotFound.
    Products: transactions, plus investments when asked. Provider errors come
    back as SyncErrors, scrubbed of the server's and the Item's secrets.
    """
    access_token = ""
    if connection_id is not None:
        connection = (
            selectors.owned_connections(user)
            .filter(pk=connection_id, provider=PLAID)
            .exclude(status=Connection.Status.DISCONNECTED)
            .first()
        )
        if connection is None:
            raise NotFound("connection not found")
        credentials = decrypt_credentials(connection.credentials_encrypted)
        access_token = credentials.get("access_token") or ""
        if not access_token:
            raise ValidationError("this connection has no Plaid access token to update")
    try:
        link_token, expiration = PlaidProvider.create_link_token(
            client_user_id=client_user_id(user),
            client_name=settings.PLAID_CLIENT_NAME,
            language=settings.PLAID_LANGUAGE,
            country_codes=list(settings.PLAID_COUNTRY_CODES),
            products=["transactions", "investments"] if investments else ["transactions"],
            webhook=webhook_url(),
            access_token=access_token,
        )
    except ProviderError as error:
        raise scrubber_for({"access_token": access_token}).scrub_error(from_provider_error(error)) from None
    return LinkToken(link_token=link_token, expiration=expiration)


@dataclass(frozen=True)
class WebhookOutcome:
    """What a verified webhook did: its action and the connections it touched."""

    action: str
    webhook_type: str
    webhook_code: str
    connection_ids: list[uuid.UUID]


def handle_plaid_webhook(*, body: bytes, verification: str | None) -> WebhookOutcome:
    """Verify a Plaid webhook and act on its Item's connections; WebhookUnverified when it does not verify.

    Nothing changes for an unverified webhook, and it is logged without its body.
    A webhook about an Item FinSync does not hold, or of a type not handled, is
    logged and ignored.
    """
    try:
        data = webhooks.verify(body, verification)
    except webhooks.WebhookRejected as rejected:
        logger.warning("Plaid webhook refused: %s (%s bytes)", rejected, len(body))
        raise WebhookUnverified("the webhook's Plaid-Verification does not check out") from None
    event = webhooks.event(data)
    connections = list(
        Connection.objects.filter(provider=PLAID, config__item_id=event.item_id)
        .exclude(status=Connection.Status.DISCONNECTED)
        .order_by("created_at")
    )
    if not event.item_id or not connections or event.action == webhooks.IGNORED:
        logger.info(
            "Plaid webhook %s/%s ignored (%s)",
            event.webhook_type,
            event.webhook_code,
            "not handled" if connections else "no connection of this Item",
        )
        return WebhookOutcome(webhooks.IGNORED, event.webhook_type, event.webhook_code, [])
    for connection in connections:
        _act(connection, event)
    return WebhookOutcome(event.action, event.webhook_type, event.webhook_code, [c.pk for c in connections])


def _act(connection: Connection, event: webhooks.WebhookEvent) -> None:
    reason = f"plaid webhook {event.webhook_type}/{event.webhook_code}"
    if event.error_code:
        reason += f" ({event.error_code})"
    if event.action == webhooks.SYNC_TRANSACTIONS:
        request_sync(connection, ["transactions"], source=Source.WEBHOOK, reason=reason)
    elif event.action == webhooks.SYNC_HOLDINGS:
        request_sync(connection, ["holdings"], source=Source.WEBHOOK, reason=reason)
    elif event.action == webhooks.NEEDS_REAUTH:
        mark_needs_reauth(connection, actor=None, source=Source.WEBHOOK, correlation_id=uuid.uuid4(), reason=reason)
    elif event.action == webhooks.DISCONNECTED:
        mark_disconnected(connection, actor=None, source=Source.WEBHOOK, reason=reason)
