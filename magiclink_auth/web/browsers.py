"""The browser side of a link's landing page: the browser id cookie, who confirmed a link, double clicks.

A browser is known by a random id in an HttpOnly cookie; only its SHA-256 is stored (``crossdevice.py``
binds links to it and hands sessions over). Here:
- the cookie is set on the pages' responses;
- a double click or a mail preview within ``CONFIRM_REPLAY_WINDOW`` in the browser that confirmed the link
  gets the same session back rather than "link already used".
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .. import jwts
from ..conf import app_settings
from ..cookies import cookie_names, set_browser_cookie
from ..crossdevice import Opener, browser_id
from ..models import BrowserLogin, PendingLink
from ..sessions import DJANGO_SESSION_KEY, is_live
from ..tokens import hash_token

__all__ = [
    "browser_id", "ensure_browser_cookie", "opener", "record_confirm", "replay_session", "confirmed_elsewhere",
    "remember_session",
]


def ensure_browser_cookie(request: HttpRequest, response: HttpResponse) -> None:
    new = getattr(request, "_magiclink_new_browser", "")
    if new:
        set_browser_cookie(request, response, new)


def remember_session(request: HttpRequest, session) -> None:
    # The landing page knows from it that a browser is signed in with the session that asked for an account
    # change; the middleware, that the Django login still stands for a live session.
    request.session[DJANGO_SESSION_KEY] = str(session.pk)


def opener(request: HttpRequest, number: str = "") -> Opener:
    """This browser as a link sees it: its id, the session and user it is signed in with, the number typed."""
    session_id, user_id = _signed_in(request)
    return Opener(browser=browser_id(request), session_id=session_id, user_id=user_id, number=number)


def _signed_in(request: HttpRequest) -> tuple[str, object]:
    """The live magic-link session of this browser and its user: from the Django session the landing page
    opened, else from the refresh cookie (sent on same-site requests only: it is SameSite=Strict)."""
    if request.user.is_authenticated and request.session.get(DJANGO_SESSION_KEY):
        return request.session[DJANGO_SESSION_KEY], request.user.pk
    refresh_jwt = request.COOKIES.get(cookie_names()[1])
    if refresh_jwt:
        try:
            claims = jwts.decode(refresh_jwt, jwts.REFRESH)
        except jwts.InvalidJWT:
            claims = {}
        if claims and is_live(claims.get("sid"), claims.get("sub")):
            return str(claims["sid"]), claims["sub"]
    return "", request.user.pk if request.user.is_authenticated else None


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
