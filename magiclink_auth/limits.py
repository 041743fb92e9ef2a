"""Limits on messages sent: the resend cooldown and the hourly cap per login ID, and the SMS pumping guard.

They are enforced in the flows, where a message is made, so every way of starting one shares them: the
API, the sign-in pages, any flow added later. Each is atomic under concurrency (docs/security.md):

- **Counters** (hourly cap, SMS caps, and the call limits in ``throttling.py``) are
  ``counters.hit``: one atomic increment-and-read per check. A message refused by a later check, or one
  whose link could not be stored, gives its counts back (``Allowance.give_back``), so only messages made
  count.
- **The resend cooldown** is decided while the flow holds the login ID's lock (``tokens.lock``), from
  the links themselves: a caller is held back only while a link it would replace, made less than
  ``RESEND_COOLDOWN`` ago, is still unused and unexpired. A used or voided link holds nothing back.
  Answers that make no link (enumeration-safe mode: notices.py) claim the same cooldown in the cache,
  with one atomic ``add``, so the two cases answer alike.

**Lockout defence.** A request from a context that recently signed in to the login ID (the same client IP
or the same browser cookie as a verify of that login ID in the last ``KNOWN_REQUESTER_LIFETIME``) is
the owner's; any other is a stranger's. Each side has its own hourly cap and its own cooldown, and a
stranger's link never voids a link the owner asked for: ten anonymous requests cannot spend the owner's
allowance or kill the link in the owner's inbox.

Login IDs are counted by ``identifiers.counting_key`` (one mailbox, one count: ``x+tag@`` is ``x@``) under
a keyed hash, so the cache holds no address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import caches
from django.utils import timezone
from django.utils.crypto import salted_hmac

from . import counters
from .conf import app_settings
from .cookies import browser_cookie_name
from .errors import ErrorKey
from .identifiers import SMS, counting_key
from .models import PendingLink
from .pumping import check_country, sms_caps
from .ratelimit import MessageCap, RateLimited

__all__ = [
    "Requester", "Allowance", "limit_key", "requester", "remember",
    "check_cooldown", "claim_cooldown", "release_cooldown", "allow",
]


class LoginIdCap(MessageCap):
    scope = "login_id"
    setting = "START_RATE_PER_LOGIN_ID"
    error_key = ErrorKey.LOGIN_ID_RATE_LIMITED


def limit_key(method: str, login_id: str) -> str:
    """A keyed hash of the login ID as counted: a shared cache never holds an address, not even one a
    dictionary would recover from a plain hash."""
    value = counting_key(method, login_id)
    return salted_hmac("magiclink_auth.throttle", value, algorithm="sha256").hexdigest()[:40]


@dataclass(frozen=True)
class Requester:
    """Who asks for a message to ``key``: the login ID's owner (a known context) or a stranger."""

    key: str
    known: bool

    @property
    def side(self) -> str:
        return "owner" if self.known else "other"


def _cache():
    return caches[app_settings.THROTTLE_CACHE]


def _contexts(key: str, meta) -> list[str]:
    """Cache keys of the request's contexts (client IP, browser cookie) for login ID ``key``."""
    request = getattr(meta, "request", None)
    browser = request.COOKIES.get(browser_cookie_name(), "") if request is not None else ""
    values = [f"ip:{meta.ip}" if meta.ip else "", f"browser:{browser[:64]}" if browser else ""]
    return [
        "magiclink:known:" + salted_hmac("magiclink_auth.known", f"{key}|{value}", algorithm="sha256").hexdigest()
        for value in values if value
    ]


def requester(method: str, login_id: str, meta) -> Requester:
    key = limit_key(method, login_id)
    contexts = _contexts(key, meta)
    return Requester(key, bool(contexts and _cache().get_many(contexts)))


def remember(method: str, login_id: str, meta) -> None:
    """A verify of ``login_id`` from this context: from now on its requests are the owner's."""
    contexts = _contexts(limit_key(method, login_id), meta)
    if contexts:
        lifetime = int(app_settings.KNOWN_REQUESTER_LIFETIME.total_seconds())
        _cache().set_many(dict.fromkeys(contexts, 1), lifetime)


def _cooldown() -> timedelta:
    return app_settings.RESEND_COOLDOWN


def check_cooldown(purpose: str, who: Requester) -> None:
    """Refuse (E062702) while a link of this side for the login ID and purpose, made less than
    ``RESEND_COOLDOWN`` ago, is unused and unexpired. Call it holding the login ID's lock (``tokens.lock``)."""
    cooldown = _cooldown()
    if cooldown <= timedelta(0):
        return
    now = timezone.now()
    newest = (
        PendingLink.objects.filter(
            limit_key=who.key, purpose=purpose, requester_known=who.known, consumed_at=None, voided_at=None,
            expires_at__gt=now, created_at__gt=now - cooldown,
        )
        .order_by("-created_at").values_list("created_at", flat=True).first()
    )
    if newest is not None:
        raise RateLimited(ErrorKey.RESEND_COOLDOWN, (newest + cooldown - now).total_seconds())


def claim_cooldown(purpose: str, who: Requester) -> str | None:
    """The cooldown of an answer that makes no link, claimed with one atomic ``add``: held for the same
    time a link would hold it (nobody can use a link that was never made). Returns the claim's key, for
    ``release_cooldown`` when a cap then refuses the message (as no link would be made either)."""
    seconds = int(_cooldown().total_seconds())
    if seconds <= 0:
        return None
    now = counters.clock()
    key = f"magiclink:cooldown:{who.side}:{purpose}:{who.key}"
    if not _cache().add(key, now + seconds, seconds):
        held_until = _cache().get(key) or 0
        if held_until > now:
            raise RateLimited(ErrorKey.RESEND_COOLDOWN, held_until - now)
        _cache().set(key, now + seconds, seconds)  # outlived its time (the cache's clock differs from ours)
    return key


def release_cooldown(key: str | None) -> None:
    if key is not None:
        _cache().delete(key)


@dataclass
class Allowance:
    """The counts a message took; ``give_back()`` when it is not made after all."""

    taken: list[str] = field(default_factory=list)

    def give_back(self) -> None:
        for key in self.taken:
            counters.give_back(key)
        self.taken.clear()


def allow(method: str, login_id: str, who: Requester) -> Allowance:
    """Count one message to ``login_id`` against every cap, or refuse it (giving back what it took)."""
    caps: list[MessageCap] = [LoginIdCap(f"{who.side}:{who.key}")]
    if method == SMS:
        check_country(login_id)
        caps += sms_caps(login_id)
    allowance = Allowance()
    for cap in caps:
        if not cap.allow_request(None, None):
            allowance.give_back()
            raise cap.refuse()
        if cap.hit is not None:
            allowance.taken.append(cap.hit.key)
    return allowance
