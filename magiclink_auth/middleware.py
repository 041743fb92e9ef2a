"""``request.user`` from the DS / DSR cookies. Put it after Django's ``AuthenticationMiddleware``.

- A valid DS (session JWT) is checked locally: signature with the cached key ring, no database query.
  The user is loaded lazily, on first use of ``request.user``. Its claims are on ``request.magiclink_claims``.
- An expired or missing DS with a DSR (refresh JWT) refreshes transparently: the new cookies are set on
  the response.
- A DSR that is invalid, expired, reused or revoked logs the browser out cleanly: both cookies are cleared,
  and a Django session opened by the magic-link backend is flushed.
- With neither cookie, a Django login made by the magic-link backend (the landing page's) lasts as long as the
  magic-link session it was made with, checked with one query: the cookies are SameSite=Strict by default,
  so a browser leaves them off a link followed from another site (a mail client, a search result), and that
  click must not sign the person out. A revoked or expired session ends the login.
"""

from __future__ import annotations

import logging

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from . import jwts, sessions
from .backends import BACKEND, MagicLinkBackend
from .cookies import browser_cookie_name, clear_session_cookies, cookie_names, set_session_cookies
from .errors import MagicLinkError
from .reporting import protect

__all__ = ["MagicLinkSessionMiddleware"]

logger = logging.getLogger("magiclink_auth")


def _load_user(user_id: str):
    from django.contrib.auth.models import AnonymousUser

    return MagicLinkBackend().get_user(user_id) or AnonymousUser()


class MagicLinkSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session_name, refresh_name = cookie_names()
        session_jwt = request.COOKIES.get(session_name)
        refresh_jwt = request.COOKIES.get(refresh_name)
        if session_jwt or refresh_jwt or request.COOKIES.get(browser_cookie_name()):
            protect(request, *request.COOKIES.values())
        request.magiclink_claims = None
        new_tokens = None
        signed_out = False
        claims = self._decode(session_jwt)
        if claims is None and refresh_jwt:
            try:
                new_tokens = sessions.refresh(refresh_jwt)
            except MagicLinkError as exc:
                logger.debug("Browser session ended: %s", exc.key)
                signed_out = True
            else:
                claims = jwts.decode(new_tokens.session_jwt, jwts.SESSION)
        elif claims is None and session_jwt:
            signed_out = True
        if claims is not None:
            request.magiclink_claims = claims
            request.user = SimpleLazyObject(lambda: _load_user(claims["sub"]))
        elif signed_out or (self._magic_link_login(request) and not self._login_session_live(request)):
            self._logout(request)
        response = self.get_response(request)
        if session_name in response.cookies:
            return response  # the view set or cleared the cookies itself (login, logout): its word stands
        if new_tokens is not None:
            set_session_cookies(request, response, new_tokens)
        elif signed_out:
            clear_session_cookies(response)
        return response

    @staticmethod
    def _decode(session_jwt: str | None):
        if not session_jwt:
            return None
        try:
            return jwts.decode(session_jwt, jwts.SESSION)
        except jwts.InvalidJWT:
            return None

    @staticmethod
    def _magic_link_login(request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        return session is not None and session.get(BACKEND_SESSION_KEY) == BACKEND

    @staticmethod
    def _login_session_live(request: HttpRequest) -> bool:
        return sessions.is_live(request.session.get(sessions.DJANGO_SESSION_KEY),
                                request.session.get(SESSION_KEY))

    @staticmethod
    def _logout(request: HttpRequest) -> None:
        if MagicLinkSessionMiddleware._magic_link_login(request):
            logout(request)
        else:
            from django.contrib.auth.models import AnonymousUser

            request.user = AnonymousUser()
