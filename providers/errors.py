"""Errors an adapter raises. Each carries a stable `code`.

Messages are safe to show and to store: adapters never put credentials, access
URLs or tokens into them.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class of every adapter failure."""

    code = "provider_unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        # The connect input the error is about (a `connect_fields` name), when there is one.
        self.field = field


class ProviderUnavailable(ProviderError):
    """The provider or the institution behind it cannot answer now (5xx, timeout, down)."""

    code = "provider_unavailable"


class ProviderRateLimited(ProviderError):
    """The provider refused for rate or quota; `retry_after` is in seconds when known."""

    code = "provider_rate_limited"


class ProviderBadResponse(ProviderError):
    """The provider answered with something that is not its documented format."""

    code = "provider_bad_response"


class ProviderAuthError(ProviderError):
    """The provider no longer accepts the stored credentials: the user must re-authenticate."""

    code = "reauth_required"


class ProviderCredentialsInvalid(ProviderError):
    """Credentials are missing or malformed before any request is made."""

    code = "credentials_invalid"


class ProviderConfigError(ProviderError):
    """Input to connect (a token, a URL, an option) is not acceptable."""

    code = "validation_error"
