"""Absolute URLs of the landing page, built from the redirect allow-list, never from the request's Host."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.urls import NoReverseMatch, reverse

from ..conf import app_settings

__all__ = ["landing_url", "is_landing"]


def landing_url(next_path: str = "", page: str = "landing") -> str:
    """The landing page (or the enchanted-link ``page``) on the first allow-list entry's origin ("" when
    none, or when it is not routed)."""
    if not app_settings.REDIRECT_URLS:
        return ""
    try:
        path = reverse(f"magiclink_auth_web:{page}")
    except NoReverseMatch:
        return ""
    origin = urlsplit(app_settings.REDIRECT_URLS[0])
    query = urlencode({"next": next_path}) if next_path else ""
    return urlunsplit((origin.scheme, origin.netloc, path, query, ""))


def is_landing(path: str) -> bool:
    try:
        return path == reverse("magiclink_auth_web:landing")
    except NoReverseMatch:
        return False
