"""System checks (``manage.py check``): configuration mistakes reported before the first request."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import app_settings
from .redirects import _parse

__all__ = ["check_settings"]


@register(Tags.security, deploy=False)
def check_settings(app_configs=None, **kwargs):
    problems = []
    if not app_settings.PROJECT_ID:
        problems.append(Error(
            "MAGICLINK_AUTH['PROJECT_ID'] is empty.",
            hint="Set it to the id your SDK clients send as 'Bearer <projectId>'.",
            id="magiclink_auth.E001",
        ))
    if not app_settings.REDIRECT_URLS:
        problems.append(Error(
            "MAGICLINK_AUTH['REDIRECT_URLS'] is empty: no link can be sent.",
            hint="List the absolute URLs (https) that links may point at.",
            id="magiclink_auth.E002",
        ))
    for entry in app_settings.REDIRECT_URLS:
        parts = _parse(entry)
        if parts is None or (parts.scheme != "https" and not settings.DEBUG and parts.hostname not in
                             {"localhost", "127.0.0.1", "::1"}):
            problems.append(Error(
                f"Redirect allow-list entry {entry!r} is not an absolute https URL.",
                id="magiclink_auth.E003",
            ))
    if app_settings.SESSION_LIFETIME > app_settings.REFRESH_LIFETIME:
        problems.append(Error(
            "SESSION_LIFETIME is longer than REFRESH_LIFETIME.", id="magiclink_auth.E007",
        ))
    if app_settings.COOKIE_SECURE is False and not settings.DEBUG:
        problems.append(Warning(
            "COOKIE_SECURE is False outside DEBUG: session cookies would travel over plain HTTP.",
            id="magiclink_auth.W004",
        ))
    return problems
