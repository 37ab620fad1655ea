"""Adapters by slug."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from providers.base import Provider

_REGISTRY: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Class decorator: make an adapter available under its `slug`."""
    if cls.slug in _REGISTRY and _REGISTRY[cls.slug] is not cls:
        raise ValueError(f"provider slug {cls.slug!r} is already registered")
    _REGISTRY[cls.slug] = cls
    return cls


def unregister(slug: str) -> None:
    """Remove the adapter registered under `slug`; nothing happens when there is none."""
    _REGISTRY.pop(slug, None)


@contextmanager
def registered(cls: type[Provider]) -> Iterator[type[Provider]]:
    """Make `cls` available under its `slug` for the duration of the block (tests, plug-ins), then remove it."""
    # Built-ins first, so that an adapter reusing a built-in slug is refused now rather than shadowed later.
    _load_builtin()
    register(cls)
    try:
        yield cls
    finally:
        unregister(cls.slug)


def get_provider_class(slug: str) -> type[Provider]:
    """The adapter class for `slug`; KeyError when there is none."""
    _load_builtin()
    return _REGISTRY[slug]


def provider_slugs() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Imported lazily so that importing the registry stays cheap and cycle-free.
    from providers import alpaca, demo, ofx, plaid, schwab, simplefin  # noqa: F401
