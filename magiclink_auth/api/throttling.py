"""Rate limits: DRF throttles whose counters live in Django's cache (``THROTTLE_CACHE``; Redis in production).

Each throttle names the error it answers with, so a limited call gets 429, its own code and ``Retry-After``
(the Python SDK raises ``RateLimitException`` carrying it). Two kinds:

- Request throttles count every call, refused or not (per IP on start and verify calls, per token on
  verify, per session on refresh): they bound what an attacker can try.
- Message throttles (``SentMessageThrottle``) are checked before the flow but count only calls that
  answered 200, i.e. that sent a message: a sign-in refused with E062108 followed at once by the sign-up
  it calls for must not be stopped by a resend cooldown. Enumeration-safe answers are 200 too, so a
  limit never tells an existing login ID from an unknown one.

The login ID is counted normalised (``A@B.COM`` and ``a@b.com`` share a count), under a keyed hash.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.cache import caches
from django.utils.crypto import salted_hmac
from rest_framework import exceptions
from rest_framework.throttling import SimpleRateThrottle

from .. import jwts
from ..conf import app_settings
from ..errors import MagicLinkError
from ..identifiers import normalize
from ..tokens import hash_token, link_lifetime

__all__ = [
    "RateLimited", "ThrottledViewMixin", "client_ip", "login_id_of", "MagicLinkThrottle",
    "SentMessageThrottle", "StartIPThrottle", "ResendCooldownThrottle", "LoginIdThrottle",
    "VerifyIPThrottle", "VerifyTokenThrottle", "RefreshSessionThrottle",
]


class RateLimited(exceptions.Throttled):
    """A throttle refused the call; ``error_key`` names the entry of ``ERRORS`` to answer with."""

    def __init__(self, wait: float | None, error_key: str) -> None:
        super().__init__(wait=max(wait or 1, 1))
        self.error_key = error_key


def client_ip(request) -> str | None:
    """The caller's address: ``REMOTE_ADDR``, or the entry ``NUM_PROXIES`` from the right of X-Forwarded-For.

    As DRF's ``NUM_PROXIES``, except that unset means 0: trusting the whole header would let any client
    pick its own address, and with it a fresh rate-limit bucket per request.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = app_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    candidate = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


METHODS = {"email", "sms"}


def login_id_of(request, view) -> str | None:
    """The normalised login ID of a start call, or None when there is none to count (the flow refuses it)."""
    if not hasattr(request, "_magiclink_login_id"):
        data = request.data
        value = data.get("loginId") if isinstance(data, dict) else None
        method = view.kwargs.get("method")
        try:
            normalized = normalize(method, value) if isinstance(value, str) and method in METHODS else None
        except MagicLinkError:
            normalized = None
        request._magiclink_login_id = normalized
    return request._magiclink_login_id


def _digest(value: str) -> str:
    """A keyed hash: the cache (often shared, often unencrypted) never holds an address, even one that a
    dictionary of addresses would recover from a plain hash."""
    return salted_hmac("magiclink_auth.throttle", value, algorithm="sha256").hexdigest()[:40]


class MagicLinkThrottle(SimpleRateThrottle):
    """A throttle configured from ``app_settings``: ``setting`` names its rate, ``error_key`` its error."""

    setting = ""
    error_key = "rate_limited"
    cache_format = "magiclink:throttle:%(scope)s:%(ident)s"

    @property
    def cache(self):
        return caches[app_settings.THROTTLE_CACHE]

    def get_rate(self) -> Any:
        return getattr(app_settings, self.setting)

    def parse_rate(self, rate):
        if isinstance(rate, tuple):
            return rate
        return super().parse_rate(rate)

    def get_ident(self, request) -> str | None:
        return client_ip(request)

    def ident(self, request, view) -> str | None:
        raise NotImplementedError("subclasses of MagicLinkThrottle must override ident()")

    def get_cache_key(self, request, view) -> str | None:
        ident = self.ident(request, view)
        return None if ident is None else self.cache_format % {"scope": self.scope, "ident": ident}

    def wait(self) -> float:
        # DRF answers None once more calls were counted than allowed (concurrent calls): wait it out.
        return super().wait() or self.duration


class SentMessageThrottle(MagicLinkThrottle):
    """Checked before the flow; counted by ``record()`` only when the call answered 200."""

    def throttle_success(self) -> bool:
        return True

    def record(self) -> None:
        now = self.timer()
        history = [t for t in self.cache.get(self.key, []) if t > now - self.duration]
        self.cache.set(self.key, [now, *history], self.duration)


class StartIPThrottle(MagicLinkThrottle):
    scope = "start_ip"
    setting = "START_RATE_PER_IP"

    def ident(self, request, view):
        return self.get_ident(request)


class ResendCooldownThrottle(SentMessageThrottle):
    scope = "resend"
    error_key = "resend_cooldown"

    def get_rate(self):
        seconds = int(app_settings.RESEND_COOLDOWN.total_seconds())
        return (1, seconds) if seconds > 0 else None

    def ident(self, request, view):
        login_id = login_id_of(request, view)
        return login_id and _digest(login_id)


class LoginIdThrottle(ResendCooldownThrottle):
    scope = "login_id"
    setting = "START_RATE_PER_LOGIN_ID"
    error_key = "login_id_rate_limited"

    def get_rate(self):
        return MagicLinkThrottle.get_rate(self)


class VerifyIPThrottle(StartIPThrottle):
    scope = "verify_ip"
    setting = "VERIFY_RATE_PER_IP"
    error_key = "verify_rate_limited"


class VerifyTokenThrottle(MagicLinkThrottle):
    """Verify calls per token, the right one included: after the limit the token is refused for the
    rest of a link's lifetime. Keyed by the token's hash, the form links are stored in."""

    scope = "verify_token"
    error_key = "verify_attempts_exceeded"

    def get_rate(self):
        attempts = app_settings.VERIFY_ATTEMPTS_PER_TOKEN
        return (attempts, int(link_lifetime().total_seconds())) if attempts else None

    def ident(self, request, view):
        data = request.data
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or len(token) > 128:
            return None
        return hash_token(token)


class RefreshSessionThrottle(MagicLinkThrottle):
    """Refreshes per session (the ``sid`` of a valid refresh JWT); per IP for tokens that do not decode."""

    scope = "refresh"
    setting = "REFRESH_RATE_PER_SESSION"
    error_key = "refresh_rate_limited"

    def ident(self, request, view):
        try:
            return "sid:" + str(jwts.decode(view.refresh_jwt or "", jwts.REFRESH)["sid"])
        except (jwts.InvalidJWT, KeyError):
            return f"ip:{self.get_ident(request)}"


class ThrottledViewMixin:
    """Raises the first refusing throttle's own error, and records message throttles after a 200."""

    def check_throttles(self, request) -> None:
        self._magiclink_throttles = self.get_throttles()
        for throttle in self._magiclink_throttles:
            if not throttle.allow_request(request, self):
                raise RateLimited(throttle.wait(), throttle.error_key)

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code == 200:
            for throttle in getattr(self, "_magiclink_throttles", ()):
                if isinstance(throttle, SentMessageThrottle) and getattr(throttle, "key", None):
                    throttle.record()
        return super().finalize_response(request, response, *args, **kwargs)
