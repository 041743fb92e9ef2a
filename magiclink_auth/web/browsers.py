"""Which browser asked for a link, which confirmed it, and the cross-device hand-over of the session.

A browser is known by a random id in an HttpOnly cookie; only its SHA-256 is stored. It serves two ends:
- login CSRF: a link is auto-confirmed only in the browser that asked for it; elsewhere the person sees
  whose account it is and must click;
- a double click or a mail preview within ``CONFIRM_REPLAY_WINDOW`` in the browser that confirmed the link
  gets the same session back rather than "link already used".
The pending reference handed to the requesting tab is a secret of 256 bits, stored hashed, collected once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.cache import caches
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .. import sessions, signals
from ..conf import app_settings
from ..cookies import browser_cookie_name, set_browser_cookie
from ..errors import MagicLinkError
from ..models import BrowserLogin, PendingLink, RefreshSession
from ..tokens import hash_token, link_lifetime

__all__ = [
    "browser_id", "ensure_browser_cookie", "bind_link", "record_confirm", "replay_session", "collect",
    "Collected",
]


def _decoys():
    return caches[app_settings.THROTTLE_CACHE]


def _decoy_key(pending_ref: str) -> str:
    return f"magiclink:decoy_ref:{hash_token(pending_ref)}"


def browser_id(request: HttpRequest) -> str:
    """The hash of this browser's id; a browser without the cookie gets one for the rest of the request."""
    raw = request.COOKIES.get(browser_cookie_name()) or getattr(request, "_magiclink_new_browser", "")
    if not raw or len(raw) > 64:
        raw = secrets.token_urlsafe(24)
        request._magiclink_new_browser = raw
    return hash_token(raw)


def ensure_browser_cookie(request: HttpRequest, response: HttpResponse) -> None:
    new = getattr(request, "_magiclink_new_browser", "")
    if new:
        set_browser_cookie(request, response, new)


def bind_link(link: PendingLink | None, request: HttpRequest | None, *, cross_device: bool) -> str | None:
    """Bind a fresh link to the requesting browser; with ``cross_device`` return its pending reference."""
    pending_ref = secrets.token_urlsafe(32) if cross_device else None
    if link is None:
        # An enumeration-safe answer made no link (notices.py): a decoy reference that polls as pending
        # for a link's lifetime, as a real one does until it is confirmed, so polling tells nothing either.
        if pending_ref:
            _decoys().set(_decoy_key(pending_ref), True, int(link_lifetime().total_seconds()))
        return pending_ref
    BrowserLogin.objects.update_or_create(link=link, defaults={
        "requester_browser": browser_id(request) if request is not None else "",
        "pending_ref_hash": hash_token(pending_ref) if pending_ref else None,
    })
    return pending_ref


@receiver(signals.link_verified)
def _link_verified(*, link: PendingLink, session: RefreshSession, first_seen: bool, **kwargs) -> None:
    """Any verify (landing page or the API) completes the hand-over to the tab that is waiting."""
    try:
        link.browser_login  # noqa: B018 - loaded with the link by find_link: no query
    except BrowserLogin.DoesNotExist:
        return  # a link no browser asked for (the API's): nothing to hand over
    BrowserLogin.objects.filter(link=link).update(
        session=session, confirmed_at=timezone.now(), first_seen=first_seen
    )


def record_confirm(link: PendingLink, request: HttpRequest) -> BrowserLogin:
    row, _ = BrowserLogin.objects.get_or_create(link=link)
    row.confirmer_browser = browser_id(request)
    row.save(update_fields=["confirmer_browser"])
    return row


def completion_of(token: str) -> BrowserLogin | None:
    link = PendingLink.objects.filter(token_hash=hash_token(token)).first() if token else None
    if link is None:
        return None
    return BrowserLogin.objects.select_related("link", "session__user").filter(link=link).first()


def replay_session(token: str, request: HttpRequest) -> BrowserLogin | None:
    """The completion of a used link, if this browser confirmed it within the replay window."""
    row = completion_of(token)
    if row is None or not row.confirmer_browser or row.link.consumed_at is None or row.session is None:
        return None
    if not secrets.compare_digest(row.confirmer_browser, browser_id(request)):
        return None
    if timezone.now() - row.link.consumed_at > app_settings.CONFIRM_REPLAY_WINDOW:
        return None
    return row if row.session.is_active else None


def confirmed_elsewhere(row: BrowserLogin | None, request: HttpRequest) -> bool:
    """True when a cross-device link is confirmed by a browser other than the one waiting for it."""
    return bool(
        row is not None and row.pending_ref_hash and row.requester_browser
        and not secrets.compare_digest(row.requester_browser, browser_id(request))
    )


@dataclass(frozen=True)
class Collected:
    tokens: sessions.IssuedTokens
    first_seen: bool


def collect(pending_ref: str) -> Collected:
    """Hand the waiting tab its session, once. E062503 until the link is confirmed."""
    row = (
        BrowserLogin.objects.select_related("link", "session__user")
        .filter(pending_ref_hash=hash_token(pending_ref)).first()
    )
    now = timezone.now()
    if row is None and _decoys().get(_decoy_key(pending_ref)):
        raise MagicLinkError("pending")
    if row is None or row.link.voided_at is not None or row.link.expires_at <= now:
        raise MagicLinkError("pending_ref_invalid")
    if row.collected_at is not None:
        raise MagicLinkError("pending_ref_used")
    if row.session is None:
        raise MagicLinkError("pending")
    if not BrowserLogin.objects.filter(pk=row.pk, collected_at=None).update(collected_at=now):
        raise MagicLinkError("pending_ref_used")
    return Collected(sessions.tokens_for(row.session), row.first_seen)
