"""Login limits: the values and the lockout response django-axes asks for (settings AXES_*).

Axes counts failed logins and refuses a locked-out client; these callables let it read
FINSYNC_LOGIN_FAILURE_LIMIT and FINSYNC_LOGIN_COOLOFF_MINUTES at each attempt, and let
a locked-out login under /api/ answer in the API's error shape.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

LOCKED_CODE = "login_locked"


def failure_limit(request: HttpRequest | None, credentials: dict | None) -> int:
    """AXES_FAILURE_LIMIT: failed logins allowed before the lockout."""
    return settings.FINSYNC_LOGIN_FAILURE_LIMIT


def cooloff(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME: how long a lockout lasts after the last failure."""
    return timedelta(minutes=settings.FINSYNC_LOGIN_COOLOFF_MINUTES)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 for a refused login; under /api/ as `{code, message, retry_after}`."""
    retry_after = math.ceil(cooloff(request).total_seconds())
    message = "Too many failed logins: try again later."
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": LOCKED_CODE, "message": message, "retry_after": retry_after},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    else:
        response = HttpResponse(message, status=settings.AXES_HTTP_RESPONSE_CODE, content_type="text/plain")
    response["Retry-After"] = str(retry_after)
    return response
