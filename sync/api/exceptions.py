"""The one exception handler: every error leaves the API as `{"code", "message", ...}`.

Domain errors (`sync.errors.SyncError`) map by `code`; DRF's and Django's own
exceptions (parse errors, authentication, permissions, not found, throttling,
validation) get the same body shape with a code of their own, and so does a body
over DATA_UPLOAD_MAX_MEMORY_SIZE (`request_too_large`, 413).
"""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from sync import errors

STATUS_BY_CODE: dict[str, int] = {
    errors.NotFound.code: status.HTTP_404_NOT_FOUND,
    errors.ValidationError.code: status.HTTP_400_BAD_REQUEST,
    errors.OAuthStateInvalid.code: status.HTTP_400_BAD_REQUEST,
    errors.ConnectionInactive.code: status.HTTP_409_CONFLICT,
    errors.ReauthRequired.code: status.HTTP_409_CONFLICT,
    errors.SyncInProgress.code: status.HTTP_409_CONFLICT,
    # Stored credentials the provider cannot use: the user must reconnect.
    errors.CredentialsInvalid.code: status.HTTP_409_CONFLICT,
    errors.ProviderUnavailable.code: status.HTTP_502_BAD_GATEWAY,
    errors.ProviderBadResponse.code: status.HTTP_502_BAD_GATEWAY,
    errors.ProviderRateLimited.code: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.WebhookUnverified.code: status.HTTP_401_UNAUTHORIZED,
}

# DRF's exceptions carry their own codes; these are the names the API promises.
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}

REQUEST_TOO_LARGE = {"code": "request_too_large", "message": "The request body is too large."}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: None (a real 500) only for exceptions that are bugs."""
    if isinstance(exc, errors.SyncError):
        return _sync_error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        # Django raises it when DRF first reads the body; left alone it would be an HTML 400 page.
        set_rollback()
        return Response(REQUEST_TOO_LARGE, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(math.ceil(exc.wait))
    body = {"code": _drf_code(exc), "message": _message(exc)}
    if isinstance(exc, exceptions.ValidationError):
        body["message"] = "the request is not valid"
        body["fields"] = flatten_errors(exc.detail)
    elif isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = math.ceil(exc.wait)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _sync_error_response(exc: errors.SyncError) -> Response:
    status_code = STATUS_BY_CODE.get(exc.code, status.HTTP_500_INTERNAL_SERVER_ERROR)
    body: dict = {"code": exc.code, "message": exc.message}
    headers = {}
    if isinstance(exc, errors.ValidationError):
        body["fields"] = {name: [str(m) for m in messages] for name, messages in exc.fields.items()}
    if exc.retry_after is not None:
        body["retry_after"] = exc.retry_after
    if exc.code == errors.ProviderRateLimited.code:
        headers["Retry-After"] = str(exc.retry_after if exc.retry_after is not None else 60)
    if exc.sync_run_id is not None:
        body["sync_run_id"] = str(exc.sync_run_id)
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def _drf_code(exc: exceptions.APIException) -> str:
    for cls in type(exc).__mro__:
        if cls in DRF_CODES:
            return DRF_CODES[cls]
    return exc.default_code


def _message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, list | dict):
        return str(exc.default_detail)
    return str(detail)


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as `{"field" or "parent.child": [messages]}`."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                fields.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                name = f"{prefix}.{index}" if prefix else str(index)
                for field, messages in flatten_errors(value, name).items():
                    fields.setdefault(field, []).extend(messages)
            else:
                fields.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        fields.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return fields
