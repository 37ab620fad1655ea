"""A demo provider that fails on request, for failure-path tests of the handlers.

It is the real demo provider with one addition: `config["fail"]` names a fetch
("accounts", "transactions", "holdings") and `config["fail_with"]` an error, so
a test can make a provider fail exactly where it wants. `bad_row` makes the
last account's transactions carry an invalid currency, so the failure happens
inside the apply, after other accounts' rows were written. `delay` makes every
fetch take that many seconds, so concurrent syncs overlap. Tests get it registered
through the `flaky_provider` fixture (tests/conftest.py).
"""

from __future__ import annotations

import time
from dataclasses import replace

from providers import errors
from providers.demo import DemoProvider

FAILURES = {
    "unavailable": lambda: errors.ProviderUnavailable("the bank is not answering"),
    "rate_limited": lambda: errors.ProviderRateLimited("slow down", retry_after=120),
    "auth": lambda: errors.ProviderAuthError("the bank refused the login"),
    "bad_response": lambda: errors.ProviderBadResponse("accounts[0].balance: not a number"),
}


class FlakyProvider(DemoProvider):
    slug = "flaky"
    display_name = "Flaky demo bank"

    def _maybe_fail(self, fetch: str) -> None:
        if self.config.get("delay"):
            time.sleep(float(self.config["delay"]))  # a slow bank: the sync stays claimed meanwhile
        if self.config.get("fail") == fetch:
            raise FAILURES[self.config.get("fail_with", "unavailable")]()

    def fetch_accounts(self):
        self._maybe_fail("accounts")
        return super().fetch_accounts()

    def fetch_transactions(self, **kwargs):
        self._maybe_fail("transactions")
        result = super().fetch_transactions(**kwargs)
        if self.config.get("bad_row"):
            last = result.transactions[-1]
            result = replace(result, transactions=[*result.transactions[:-1], replace(last, currency="US")])
        return result

    def fetch_holdings(self, **kwargs):
        self._maybe_fail("holdings")
        return super().fetch_holdings(**kwargs)
