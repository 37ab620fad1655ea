"""factory-boy factories. Connections are created through the real connect
service, so their credentials are encrypted exactly as in production."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from sync.services.connections import create_connection

# A fixed clock for the demo provider: tests don't change with the calendar.
DEMO_TODAY = date(2026, 6, 15)
PINNED_CONFIG = {"as_of": DEMO_TODAY.isoformat(), "history_start": "2026-02-01"}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class ConnectionFactory(factory.Factory):
    """A demo connection made by `create_connection`; extra config (as_of, sizes) is merged in."""

    class Meta:
        model = dict  # built by _create below

    owner = factory.SubFactory(UserFactory)
    provider = "demo"
    name = "Demo bank"
    options = factory.LazyFunction(dict)
    # Extra config merged over the pinned clock; pass config={} for live, unpinned demo data.
    config = None

    @classmethod
    def _create(cls, model_class, *, owner, provider, name, options, config):
        connection = create_connection(
            owner=owner, provider=provider, name=name, options=options, actor=owner, source="cli"
        )
        if config != {}:
            config = config or {}
            connection.config = {**connection.config, **PINNED_CONFIG, **config}
            connection.save(update_fields=["config"])
        return connection

    _build = _create


class AccountFactory(factory.django.DjangoModelFactory):
    """An account of a (new, by default) demo connection, as a sync would have stored it."""

    class Meta:
        model = "sync.Account"

    connection = factory.SubFactory(ConnectionFactory)
    provider_account_id = factory.Sequence(lambda n: f"acct-{n}")
    name = factory.Sequence(lambda n: f"Account {n}")


class TransactionFactory(factory.django.DjangoModelFactory):
    """A posted transaction on the pinned demo day."""

    class Meta:
        model = "sync.Transaction"

    account = factory.SubFactory(AccountFactory)
    provider_transaction_id = factory.Sequence(lambda n: f"tx-{n}")
    posted_date = DEMO_TODAY
    amount = Decimal("-12.34")
    description = "Coffee"


class HoldingFactory(factory.django.DjangoModelFactory):
    """A position in an investment account."""

    class Meta:
        model = "sync.Holding"

    account = factory.SubFactory(AccountFactory, type="investment")
    provider_holding_id = factory.Sequence(lambda n: f"hold-{n}")
    symbol = "VTI"
    quantity = Decimal("10")


class SyncRunFactory(factory.django.DjangoModelFactory):
    """A sync run row; `running` (the model's default status) unless told otherwise.

    A running run is the connection's claim (one per connection in the database); give
    `lease_expires_at` in the future for a live claim, in the past for a crashed one.
    """

    class Meta:
        model = "sync.SyncRun"

    connection = factory.SubFactory(ConnectionFactory)
    kind = "accounts"
    source = "cli"
