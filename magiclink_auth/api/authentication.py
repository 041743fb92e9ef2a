"""DRF authentication for a site's own API: ``Authorization: Bearer <sessionJwt>`` or the DS cookie.

A cookie is an ambient credential, so cookie-authenticated unsafe requests must pass Django's CSRF check
(as DRF's ``SessionAuthentication`` does); a Bearer header is not sent by a browser on its own, so it needs
none. ``request.auth`` is the session JWT's claims.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck, get_authorization_header

from .. import jwts
from ..backends import MagicLinkBackend
from ..cookies import cookie_names
from ..errors import ErrorKey, MagicLinkError

__all__ = ["MagicLinkAuthentication"]


def _failed(key: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(MagicLinkError(key).as_json())


class MagicLinkAuthentication(BaseAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request):
        scheme, _, credentials = get_authorization_header(request).decode("latin-1").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials.count(".") == 2:
            return self._user(self._decode(credentials))
        # The middleware may have refreshed an expired DS on this very request; its lazy request.user is
        # then the same user, loaded at most once whoever reads it first.
        claims = getattr(request._request, "magiclink_claims", None)
        session_jwt = request._request.COOKIES.get(cookie_names()[0])
        if claims is None and not session_jwt:
            return None
        from_middleware = claims is not None
        claims = claims or self._decode(session_jwt)
        self._enforce_csrf(request)
        if from_middleware:
            user = request._request.user
            if not user.is_authenticated:
                raise _failed("session_jwt_invalid")
            return user, claims
        return self._user(claims)

    @staticmethod
    def _decode(token: str) -> dict:
        try:
            return jwts.decode(token, jwts.SESSION)
        except jwts.InvalidJWT:
            raise _failed("session_jwt_invalid") from None

    @staticmethod
    def _user(claims: dict):
        user = MagicLinkBackend().get_user(claims["sub"])
        if user is None:
            raise _failed("session_jwt_invalid")
        return user, claims

    @staticmethod
    def _enforce_csrf(request) -> None:
        check = CSRFCheck(lambda req: None)
        check.process_request(request)
        if check.process_view(request, None, (), {}):
            raise exceptions.PermissionDenied(MagicLinkError(ErrorKey.CSRF_FAILED).as_json())

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
