"""The registry's test-facing API: `registered` adds an adapter for a block and removes it afterwards."""

from __future__ import annotations

import pytest

from providers import registry
from providers.demo import DemoProvider


class PassingProvider(DemoProvider):
    slug = "passing"
    display_name = "Passing bank"


class DemoImpostor(DemoProvider):
    slug = "demo"


def test_registered_adds_for_the_block_only():
    with registry.registered(PassingProvider) as cls:
        assert cls is PassingProvider
        assert registry.get_provider_class("passing") is PassingProvider
        assert "passing" in registry.provider_slugs()
    assert "passing" not in registry.provider_slugs()
    with pytest.raises(KeyError):
        registry.get_provider_class("passing")


def test_registered_removes_even_when_the_block_fails():
    with pytest.raises(RuntimeError), registry.registered(PassingProvider):
        raise RuntimeError("boom")
    assert "passing" not in registry.provider_slugs()


def test_a_built_in_slug_is_refused_and_kept():
    with pytest.raises(ValueError, match="already registered"), registry.registered(DemoImpostor):
        pass  # pragma: no cover (never entered)
    assert registry.get_provider_class("demo") is DemoProvider


def test_the_fixture_unregisters_after_the_test(register_provider):
    assert register_provider(PassingProvider) is PassingProvider
    assert registry.get_provider_class("passing") is PassingProvider


def test_the_previous_tests_provider_is_gone():
    assert "passing" not in registry.provider_slugs()
