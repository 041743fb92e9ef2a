"""Rate counters on Django's cache that hold when requests arrive at once.

A counter is a sliding window, approximated as rate limiters at scale do: a count per fixed window, and the
estimate ``current + floor(previous * share of the previous window still inside the sliding one)``, so a
burst at a window's edge cannot pass twice the limit as with fixed windows (rounding down lets at most
one more call through than the exact estimate, and a limit of 1 per window waits for one window only). Each check
is **one atomic increment that also reads**: every caller gets its own count back, so of any number of
simultaneous callers exactly as many pass as the limit leaves room for (a read-then-write counter lets
them all pass together). A caller turned away gives its increment back, so a count is what was let
through.

- Redis (Django's ``RedisCache``): one round trip per check, a ``MULTI``/``EXEC`` pipeline of ``INCR``,
  ``EXPIRE`` and ``GET`` of the previous window, on the pooled redis-py client behind the cache.
- Any other cache: ``add`` then ``incr``, each atomic in the local-memory cache and Memcached (not in the
  database or file caches, whose ``incr`` is a read and a write: system check W031 warns).

The clock is ``counters.clock`` so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from .conf import app_settings

__all__ = ["Hit", "clock", "hit", "give_back", "peek"]

clock = time.time


@dataclass(frozen=True)
class Hit:
    """One counted call: whether it passed and, when not, how long until a call would."""

    key: str
    allowed: bool
    retry_after: float


def _cache():
    return caches[app_settings.THROTTLE_CACHE]


def _keys(name: str, window: int, now: float) -> tuple[str, str, float]:
    index = int(now // window)
    return f"{name}:{index}", f"{name}:{index - 1}", now - index * window


def _redis(cache):
    """The redis-py client behind Django's RedisCache (pooled, the server writes go to), or None."""
    return cache._cache.get_client(write=True) if isinstance(cache, RedisCache) else None


def _increment(current: str, previous: str, window: int) -> tuple[int, int]:
    """Add one to ``current`` and read it and ``previous``, atomically for ``current``."""
    cache = _cache()
    client = _redis(cache)
    if client is not None:
        pipe = client.pipeline()  # MULTI ... EXEC: one round trip, applied together
        pipe.incr(cache.make_and_validate_key(current))
        pipe.expire(cache.make_and_validate_key(current), 2 * window)
        pipe.get(cache.make_and_validate_key(previous))
        count, _, before = pipe.execute()
        return int(count), int(before or 0)
    for _ in range(2):
        cache.add(current, 0, 2 * window)
        try:
            count = cache.incr(current)
        except ValueError:  # expired between add and incr
            continue
        return count, int(cache.get(previous) or 0)
    raise RuntimeError("the rate counter could not be incremented")


def _passes(count: int, before: int, limit: int, window: int, elapsed: float) -> bool:
    return count + math.floor(before * (1 - elapsed / window)) <= limit


def _wait(count: int, before: int, limit: int, window: int, elapsed: float) -> float:
    """Seconds until a call counted as ``count`` now would pass."""
    if count <= limit and before:
        # The current window has room; the previous one must weigh less.
        return window * (1 - (limit - count + 1) / before) - elapsed
    # Wait for the next window, where this window's count (without this call) is the previous one.
    carried = count - 1
    later = window * max(0.0, 1 - limit / carried) if carried else 0.0
    return window - elapsed + later


def _retry_after(wait: float) -> float:
    """Whole seconds after which the call passes: strictly past ``wait``, where the estimate first drops under
    the limit (at exactly ``wait`` it still equals the limit plus this call)."""
    return max(1.0, math.floor(wait) + 1)


def hit(name: str, limit: int, window: int) -> Hit:
    """Count one call under ``name``; refused (and not counted) when more than ``limit`` per ``window``."""
    now = clock()
    current, previous, elapsed = _keys(name, window, now)
    count, before = _increment(current, previous, window)
    if _passes(count, before, limit, window, elapsed):
        return Hit(current, True, 0.0)
    give_back(current)
    return Hit(current, False, _retry_after(_wait(count, before, limit, window, elapsed)))


def give_back(key: str) -> None:
    """Undo one count of a ``Hit`` (a call refused later, or one that failed)."""
    cache = _cache()
    client = _redis(cache)
    if client is not None:
        client.decr(cache.make_and_validate_key(key))
        return
    try:
        cache.decr(key)
    except ValueError:
        pass  # the window already ended


def peek(name: str, limit: int, window: int) -> Hit:
    """Whether a call would pass now, counting nothing (for pages that only read)."""
    now = clock()
    current, previous, elapsed = _keys(name, window, now)
    values = _cache().get_many([current, previous])
    count, before = int(values.get(current) or 0) + 1, int(values.get(previous) or 0)
    if _passes(count, before, limit, window, elapsed):
        return Hit(current, True, 0.0)
    return Hit(current, False, _retry_after(_wait(count, before, limit, window, elapsed)))
