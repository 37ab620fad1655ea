"""The loopback provider fakes of tests/providers, shared with the reliability tests."""

from tests.providers.conftest import (  # noqa: F401  (fixtures, registered by import)
    _http_settings,
    alpaca_fake,
    alpaca_server,
    plaid_fake,
    plaid_server,
    simplefin_fake,
    simplefin_server,
)
