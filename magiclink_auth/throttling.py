"""Rate limits on calls, shared by the API's views and the sign-in pages: DRF throttles on Django's cache,
each answering 429 with its own code and
``Retry-After`` (the Python SDK raises ``RateLimitException`` carrying it).

These count calls, refused or not, and bound what an attacker can try: start calls per client IP, verify
calls per IP and per token, refreshes per session, email and phone updates per session and per IP. Each
check is one atomic increment-and-read (``counters.py``). Limits on messages sent (per login ID, SMS pumping)
live in ``limits.py`` and are enforced by the flows, so the sign-in pages share them.
"""

from __future__ import annotations

from . import counters, jwts
from .conf import app_settings
from .errors import ErrorKey
from .network import client_ip
from .ratelimit import CachedThrottle
from .tokens import hash_token, link_lifetime

__all__ = [
    "ThrottledViewMixin", "client_ip", "CallThrottle", "StartIPThrottle", "VerifyIPThrottle",
    "VerifyTokenThrottle", "SessionThrottle", "RefreshSessionThrottle", "UpdateSessionThrottle",
    "UpdateIPThrottle",
]


class CallThrottle(CachedThrottle):
    """Counts every call whose ``ident()`` is not None."""

    def get_ident(self, request) -> str | None:
        return client_ip(request)

    def ident(self, request, view) -> str | None:
        raise NotImplementedError("subclasses of CallThrottle must override ident()")

    def get_cache_key(self, request, view) -> str | None:
        ident = self.ident(request, view)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}


class StartIPThrottle(CallThrottle):
    scope = "start_ip"
    setting = "START_RATE_PER_IP"

    def ident(self, request, view):
        return self.get_ident(request)


class VerifyIPThrottle(StartIPThrottle):
    scope = "verify_ip"
    setting = "VERIFY_RATE_PER_IP"
    error_key = ErrorKey.VERIFY_RATE_LIMITED


class VerifyTokenThrottle(CallThrottle):
    """Verify calls per token, the right one included: after the limit the token is refused for the
    rest of a link's lifetime. Keyed by the token's hash, the form links are stored in.

    The landing page counts its confirms in the same bucket (``VerifyTokenThrottle(token)``), and checks
    it without counting when it only shows a link (``peek``): a token the API refuses is refused there.
    """

    scope = "verify_token"
    error_key = ErrorKey.VERIFY_ATTEMPTS_EXCEEDED

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token

    def get_rate(self):
        attempts = app_settings.VERIFY_ATTEMPTS_PER_TOKEN
        return (attempts, int(link_lifetime().total_seconds())) if attempts else None

    def ident(self, request, view):
        token = self.token
        if token is None:
            data = request.data
            token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or len(token) > 128:
            return None
        return hash_token(token)

    def peek(self, request) -> bool:
        """Whether a verify with this token would pass now, counting nothing."""
        key = self.get_cache_key(request, None)
        if self.rate is None or key is None:
            return True
        self.hit = counters.peek(key, self.num_requests, self.duration)
        return self.hit.allowed


class SessionThrottle(CallThrottle):
    """Calls per session (the ``sid`` of a valid refresh JWT); per IP for tokens that do not decode."""

    def ident(self, request, view):
        try:
            return "sid:" + str(jwts.decode(view.refresh_jwt or "", jwts.REFRESH)["sid"])
        except (jwts.InvalidJWT, KeyError):
            return f"ip:{self.get_ident(request)}"


class RefreshSessionThrottle(SessionThrottle):
    scope = "refresh"
    setting = "REFRESH_RATE_PER_SESSION"
    error_key = ErrorKey.REFRESH_RATE_LIMITED


class UpdateSessionThrottle(SessionThrottle):
    """update/email and update/phone per session: a signed-in account is no relay for mail or SMS to
    addresses of its choosing."""

    scope = "update_session"
    setting = "UPDATE_RATE_PER_SESSION"
    error_key = ErrorKey.UPDATE_RATE_LIMITED


class UpdateIPThrottle(StartIPThrottle):
    """update/email and update/phone per client IP, whatever the session: many self-made accounts from
    one place are one bucket."""

    scope = "update_ip"
    setting = "UPDATE_RATE_PER_IP"
    error_key = ErrorKey.UPDATE_IP_RATE_LIMITED


class ThrottledViewMixin:
    """Raises the first refusing throttle's own error (``RateLimited``: 429 with ``Retry-After``)."""

    def check_throttles(self, request) -> None:
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                raise throttle.refuse()
