"""The domain error hierarchy. Every interface maps these once, by `code`.

Provider failures arrive as `providers.errors.ProviderError` and are turned into
the matching class here by `from_provider_error`, so interfaces see one family.
"""

from __future__ import annotations

from providers import errors as provider_errors


class SyncError(Exception):
    """Base of every error a handler raises; `code` is stable and machine-readable."""

    code = "sync_error"

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
        sync_run_id=None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.retry_after = retry_after
        # Set by the handler once the failed attempt is recorded.
        self.sync_run_id = sync_run_id


class NotFound(SyncError):
    code = "not_found"


class ValidationError(SyncError):
    code = "validation_error"


class OAuthStateInvalid(ValidationError):
    """An OAuth callback whose `state` is unknown, expired, used already or another user's: nothing is stored."""

    code = "oauth_state_invalid"


class ConnectionInactive(SyncError):
    code = "connection_inactive"


class ReauthRequired(SyncError):
    code = "reauth_required"


class SyncInProgress(SyncError):
    code = "sync_in_progress"


class ProviderRateLimited(SyncError):
    code = "provider_rate_limited"


class ProviderUnavailable(SyncError):
    code = "provider_unavailable"


class ProviderBadResponse(SyncError):
    code = "provider_bad_response"


class CredentialsInvalid(SyncError):
    code = "credentials_invalid"


class WebhookUnverified(SyncError):
    """A webhook whose signature, key, age or body hash does not check out: nothing is done."""

    code = "webhook_unverified"


ERRORS_BY_CODE: dict[str, type[SyncError]] = {
    cls.code: cls
    for cls in (
        NotFound,
        ValidationError,
        ConnectionInactive,
        ReauthRequired,
        SyncInProgress,
        ProviderRateLimited,
        ProviderUnavailable,
        ProviderBadResponse,
        CredentialsInvalid,
    )
}


def from_provider_error(error: provider_errors.ProviderError) -> SyncError:
    """The domain error for an adapter's failure (same code, same safe message)."""
    cls = ERRORS_BY_CODE.get(error.code, ProviderUnavailable)
    fields = {f"credentials.{error.field}": [error.message]} if error.field else None
    return cls(error.message, retry_after=error.retry_after, fields=fields)


class InternalError(SyncError):
    """A bug or an outage met during a sync (not a provider's or the user's fault); recorded, then re-raised as is."""

    code = "internal_error"
