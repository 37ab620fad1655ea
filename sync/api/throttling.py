"""The scoped throttles: on the three sync actions, and on connecting."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SyncRateThrottle(SimpleRateThrottle):
    """Limits each user's sync requests (all three kinds together) to FINSYNC_SYNC_THROTTLE_RATE.

    The rate is read per request, not at import, so deployments and tests can change it.
    """

    scope = "sync"

    def __init__(self) -> None:
        # The parent reads the rate in __init__; defer that to `allow_request`.
        pass

    def get_rate(self) -> str | None:
        return getattr(settings, "FINSYNC_SYNC_THROTTLE_RATE", None) or None

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # authentication fails first anyway
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ConnectRateThrottle(SyncRateThrottle):
    """Limits each user's connect attempts (create, and reconnect once it exists) to FINSYNC_CONNECT_THROTTLE_RATE.

    Every attempt counts, failed ones too: each may make FinSync contact a host
    the user chose. A view applies it to the actions in `actions`.
    """

    scope = "connect"
    actions = frozenset({"create", "reconnect"})

    def get_rate(self) -> str | None:
        return getattr(settings, "FINSYNC_CONNECT_THROTTLE_RATE", "20/hour") or None
