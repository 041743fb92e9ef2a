"""The DS (session) and DSR (refresh) cookies, as the protocol and RFC 6265bis want them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .conf import app_settings

__all__ = ["cookie_names", "set_session_cookies", "clear_session_cookies"]


def cookie_names() -> tuple[str, str]:
    return app_settings.SESSION_COOKIE_NAME, app_settings.REFRESH_COOKIE_NAME


def _secure(request: HttpRequest) -> bool:
    configured = app_settings.COOKIE_SECURE
    return request.is_secure() if configured is None else bool(configured)


def set_session_cookies(request: HttpRequest, response: HttpResponse, tokens) -> None:
    session_name, refresh_name = cookie_names()
    common = {
        "domain": app_settings.COOKIE_DOMAIN,
        "path": app_settings.COOKIE_PATH,
        "secure": _secure(request),
        "httponly": True,
        "samesite": app_settings.COOKIE_SAMESITE,
    }
    response.set_cookie(
        session_name, tokens.session_jwt, max_age=int(app_settings.SESSION_LIFETIME.total_seconds()), **common
    )
    response.set_cookie(refresh_name, tokens.refresh_jwt, expires=tokens.refresh_expires_at, **common)


def clear_session_cookies(response: HttpResponse) -> None:
    for name in cookie_names():
        response.delete_cookie(
            name, path=app_settings.COOKIE_PATH, domain=app_settings.COOKIE_DOMAIN,
            samesite=app_settings.COOKIE_SAMESITE,
        )
