"""A limit that counts: a DRF throttle counted atomically on the cache (``counters.hit``), and the error
that a refusal raises (429 with ``Retry-After``).

The call limits (``throttling.py``) and the message caps (``limits.py``, ``pumping.py``) are built on it.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from . import counters
from .conf import app_settings
from .errors import ErrorKey, MagicLinkError

__all__ = ["RateLimited", "CachedThrottle", "MessageCap"]


class RateLimited(MagicLinkError):
    """A limit refused the call; the API answers 429 with ``Retry-After: retry_after``."""

    def __init__(self, key: ErrorKey | str, retry_after: float | None) -> None:
        super().__init__(key, retry_after=max(1, math.ceil(retry_after or 1)))


class CachedThrottle(SimpleRateThrottle):
    """A DRF throttle counted atomically (``counters.hit``), with its rate from ``app_settings.<setting>``."""

    setting = ""
    error_key = ErrorKey.RATE_LIMITED
    cache_format = "magiclink:throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.hit: counters.Hit | None = None

    def get_rate(self) -> Any:
        return getattr(app_settings, self.setting)

    def parse_rate(self, rate):
        return rate if isinstance(rate, tuple) else super().parse_rate(rate)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.hit = counters.hit(key, self.num_requests, self.duration)
        return self.hit.allowed

    def wait(self) -> float:
        return self.hit.retry_after if self.hit is not None else 1.0

    def refuse(self) -> RateLimited:
        return RateLimited(self.error_key, self.wait())


class MessageCap(CachedThrottle):
    """A cap on messages for one ``ident`` (a login ID's key, an SMS prefix, the site)."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}
