"""Limits on messages sent: per login ID (resend cooldown, hourly cap) and, for SMS, the pumping guard.

They are enforced in the flows, where a message is made, so every way of starting one shares them: the
API, the sign-in pages, any flow added later. A flow calls ``check()`` before it makes a link (raising
``RateLimited``, or E062707 for a country SMS may not go to) and ``record()`` once the message is queued, so
only messages sent count: a sign-in refused with E062108 followed at once by the sign-up it calls for is
not stopped by the cooldown. Enumeration-safe answers (notices.py) check and record like any other, so a
limit never tells an existing login ID from an unknown one.

The counters are DRF throttles on Django's cache (``THROTTLE_CACHE``); the login ID is counted normalised
(``A@B.COM`` and ``a@b.com`` share a count) under a keyed hash, so the cache holds no address.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.cache import caches
from django.utils.crypto import salted_hmac
from rest_framework.throttling import SimpleRateThrottle

from .conf import app_settings
from .errors import MagicLinkError

__all__ = [
    "RateLimited", "CachedThrottle", "MessageThrottle", "ResendCooldown", "LoginIdCap", "check", "record",
]


class RateLimited(MagicLinkError):
    """A limit refused the call; the API answers 429 with ``Retry-After: retry_after``."""

    def __init__(self, key: str, retry_after: float | None) -> None:
        super().__init__(key)
        self.retry_after = max(1, math.ceil(retry_after or 1))


class CachedThrottle(SimpleRateThrottle):
    """A DRF throttle set up from ``app_settings``: ``setting`` names its rate, ``error_key`` its error."""

    setting = ""
    error_key = "rate_limited"
    cache_format = "magiclink:throttle:%(scope)s:%(ident)s"

    @property
    def cache(self):
        return caches[app_settings.THROTTLE_CACHE]

    def get_rate(self) -> Any:
        return getattr(app_settings, self.setting)

    def parse_rate(self, rate):
        return rate if isinstance(rate, tuple) else super().parse_rate(rate)

    def wait(self) -> float:
        # DRF answers None once more calls were counted than allowed (concurrent calls): wait it out.
        return super().wait() or self.duration

    def refuse(self) -> RateLimited:
        return RateLimited(self.error_key, self.wait())


class MessageThrottle(CachedThrottle):
    """Counts messages for one ``ident``: ``allow_request`` only checks, ``record()`` counts one sent."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def throttle_success(self) -> bool:
        return True

    def record(self) -> None:
        if self.rate is None:
            return
        now = self.timer()
        key = self.get_cache_key(None, None)
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        self.cache.set(key, [now, *history], self.duration)


class ResendCooldown(MessageThrottle):
    scope = "resend"
    error_key = "resend_cooldown"

    def get_rate(self):
        seconds = int(app_settings.RESEND_COOLDOWN.total_seconds())
        return (1, seconds) if seconds > 0 else None


class LoginIdCap(MessageThrottle):
    scope = "login_id"
    setting = "START_RATE_PER_LOGIN_ID"
    error_key = "login_id_rate_limited"


def _digest(value: str) -> str:
    """A keyed hash: a shared cache never holds an address, not even one a dictionary would recover."""
    return salted_hmac("magiclink_auth.throttle", value, algorithm="sha256").hexdigest()[:40]


def check(method: str, login_id: str) -> list[MessageThrottle]:
    """Refuse a message to ``login_id`` (normalised) that a limit forbids; else the throttles to record."""
    from . import pumping

    key = _digest(login_id)
    throttles: list[MessageThrottle] = [ResendCooldown(key), LoginIdCap(key)]
    if method == "sms":
        pumping.check_country(login_id)
        throttles += pumping.throttles(login_id)
    for throttle in throttles:
        if not throttle.allow_request(None, None):
            raise throttle.refuse()
    return throttles


def record(throttles: list[MessageThrottle]) -> None:
    for throttle in throttles:
        throttle.record()
