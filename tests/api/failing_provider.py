"""An adapter that fails the way a real provider does, for the API's 409/502/503 mappings.

It is a real `Provider` registered by slug (the `failing_provider` fixture adds and
removes it); `connect({"error": CODE, "retry_after": N})` picks the failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers import errors
from providers.base import Capabilities, ConnectionSetup, CredentialField, Provider

ERRORS = {
    "provider_unavailable": errors.ProviderUnavailable,
    "provider_bad_response": errors.ProviderBadResponse,
    "provider_rate_limited": errors.ProviderRateLimited,
    "reauth_required": errors.ProviderAuthError,
    "credentials_invalid": errors.ProviderCredentialsInvalid,
}


class FailingProvider(Provider):
    slug = "failing-test"
    display_name = "Failing test provider"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=True)
    connect_fields = (
        CredentialField(name="error", help="Error code every fetch raises", secret=False),
        CredentialField(
            name="retry_after",
            help="Seconds, for provider_rate_limited",
            secret=False,
            required=False,
            kind="integer",
        ),
    )

    @classmethod
    def connect(cls, options: Mapping[str, Any]) -> ConnectionSetup:
        if options["error"] not in ERRORS:
            raise errors.ProviderConfigError(f"error must be one of {', '.join(ERRORS)}")
        retry_after = options.get("retry_after")
        return ConnectionSetup(
            credentials={"token": "failing"},
            config={"error": options["error"], "retry_after": int(retry_after) if retry_after else None},
        )

    def _fail(self):
        raise ERRORS[self.config["error"]](
            "the test provider failed on purpose", retry_after=self.config["retry_after"]
        )

    def fetch_accounts(self):
        self._fail()

    def fetch_transactions(self, *, start, end, account_ids=None, cursor=None):
        self._fail()

    def fetch_holdings(self, *, account_id):
        self._fail()
