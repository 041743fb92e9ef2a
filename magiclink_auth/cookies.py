"""The DS (session) and DSR (refresh) cookies, as the protocol and RFC 6265bis want them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from .conf import app_settings

__all__ = [
    "cookie_names", "browser_cookie_name", "set_session_cookies", "clear_session_cookies",
    "set_browser_cookie",
]


def _prefixed(name: str) -> str:
    return f"__Host-{name}" if app_settings.COOKIE_HOST_PREFIX else name


def cookie_names() -> tuple[str, str]:
    return _prefixed(app_settings.SESSION_COOKIE_NAME), _prefixed(app_settings.REFRESH_COOKIE_NAME)


def browser_cookie_name() -> str:
    return _prefixed(app_settings.BROWSER_COOKIE_NAME)


def _secure(request: HttpRequest) -> bool:
    # Browsers drop a `__Host-` cookie that is not Secure.
    if app_settings.COOKIE_HOST_PREFIX:
        return True
    configured = app_settings.COOKIE_SECURE
    return request.is_secure() if configured is None else bool(configured)


def _domain() -> str | None:
    return None if app_settings.COOKIE_HOST_PREFIX else app_settings.COOKIE_DOMAIN


def _path() -> str:
    return "/" if app_settings.COOKIE_HOST_PREFIX else app_settings.COOKIE_PATH


def set_session_cookies(request: HttpRequest, response: HttpResponse, tokens) -> None:
    session_name, refresh_name = cookie_names()
    common = {
        "domain": _domain(),
        "path": _path(),
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
            name, path=_path(), domain=_domain(), samesite=app_settings.COOKIE_SAMESITE,
        )


def set_browser_cookie(request: HttpRequest, response: HttpResponse, value: str) -> None:
    """The browser id: Lax, so that it comes along when a person opens a link from their mail."""
    response.set_cookie(
        browser_cookie_name(), value, max_age=365 * 24 * 3600, domain=_domain(), path=_path(),
        secure=_secure(request), httponly=True, samesite="Lax",
    )
