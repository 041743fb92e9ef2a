"""The redirect allow-list: a link may only point at a URL the site owns.

A link carries its token in the query string; pointing it at a host the attacker controls would hand them
the token. So a URI is allowed only when it has the exact scheme and host (and port) of an allow-list entry
and its path starts with the entry's path on a ``/`` boundary. Userinfo is refused (``https://a@evil``),
and so are schemes other than https, except http for localhost or under DEBUG. Hosts compare
case-insensitively; paths do not. Fragments are ignored for matching and dropped from the link.

Paths are normalised before the prefix check, as a browser will: encoded dots (``%2e``) decoded and dot
segments removed (RFC 3986 section 5.2.4), so ``/app/%2e%2e/admin/`` is checked, and stored, as ``/admin/``,
not waved through as a path under ``/app``. An encoded slash or backslash (``%2f``, ``%5c``) is refused:
servers disagree on whether it separates segments.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from .conf import app_settings
from .errors import ErrorKey, MagicLinkError

__all__ = ["is_allowed", "resolve_redirect_uri", "add_token", "landing_url", "is_landing"]

LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}
MAX_URI_LENGTH = 2048


ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
ENCODED_DOT = re.compile(r"%2e", re.IGNORECASE)


def remove_dot_segments(path: str) -> str:
    """``/a/./b/../c`` -> ``/a/c``; never above the root (RFC 3986 section 5.2.4)."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output)


def _parse(url: str) -> SplitResult | None:
    """The URL split, its path normalised as a browser will; None when it is malformed or ambiguous."""
    if not url or len(url) > MAX_URI_LENGTH or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or "@" in parts.netloc or "\\" in url:
        return None
    if ENCODED_SEPARATOR.search(parts.path):
        return None
    return parts._replace(path=remove_dot_segments(ENCODED_DOT.sub(".", parts.path)))


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    default_port = {"http": 80, "https": 443}[parts.scheme]
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default_port


def _scheme_allowed(parts: SplitResult) -> bool:
    if parts.scheme == "https":
        return True
    return settings.DEBUG or (parts.hostname or "").lower() in LOCAL_HOSTS


def is_allowed(url: str, allow_list: list[str] | None = None) -> bool:
    candidate = _parse(url)
    if candidate is None or not _scheme_allowed(candidate):
        return False
    for entry in app_settings.REDIRECT_URLS if allow_list is None else allow_list:
        allowed = _parse(entry)
        if allowed is None or _origin(allowed) != _origin(candidate):
            continue
        prefix = allowed.path or "/"
        path = candidate.path or "/"
        if path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            return True
    return False


def resolve_redirect_uri(uri: str | None) -> str:
    """The URI a link will carry: the one asked for if allowed, else the configured default."""
    # With no default configured, links go to the app's own landing page (when it is routed).
    uri = (uri or "").strip() or app_settings.DEFAULT_REDIRECT_URL or landing_url()
    if not uri:
        raise MagicLinkError(ErrorKey.URI_MISSING)
    if not is_allowed(uri):
        raise MagicLinkError(ErrorKey.URI_NOT_ALLOWED)
    # The normalised form: the link goes exactly where the allow-list was checked.
    return urlunsplit(_parse(uri)._replace(fragment=""))


def add_token(uri: str, token: str) -> str:
    """``uri`` with ``t=<token>`` in its query; an existing ``t`` is replaced, other parameters kept.

    With ``TOKEN_IN_FRAGMENT``, a link to the app's landing page carries ``#t=<token>`` instead: browsers
    never send the fragment, so no GET, proxy log or scanner fetch of the link sees the token.
    """
    parts = urlsplit(uri)
    if app_settings.TOKEN_IN_FRAGMENT and is_landing(parts.path):
        return urlunsplit(parts._replace(fragment=urlencode({"t": token})))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
    query.append(("t", token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def landing_url(next_path: str = "", page: str = "landing") -> str:
    """The landing page (or the enchanted-link ``page``) as an absolute URL on the first allow-list entry's
    origin, never on the request's Host ("" when the allow-list is empty or the page is not routed)."""
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
