"""factory-boy factories. Connections are created through the real connect
service, so their credentials are encrypted exactly as in production."""

from __future__ import annotations

from datetime import date

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
