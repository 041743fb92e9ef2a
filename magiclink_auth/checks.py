"""System checks (``manage.py check``): configuration mistakes reported before the first request."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from phonenumbers import region_code_for_country_code

from .conf import app_settings
from .redirects import _parse

__all__ = ["check_settings", "check_browser_login"]


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
    return problems + check_browser_login()


MIDDLEWARE_PATH = "magiclink_auth.middleware.MagicLinkSessionMiddleware"
BACKEND_PATH = "magiclink_auth.backends.MagicLinkBackend"


def check_browser_login() -> list:
    """The browser side: cookie prefix, middleware order, backend, windows."""
    problems = []
    if app_settings.COOKIE_HOST_PREFIX and (app_settings.COOKIE_DOMAIN or app_settings.COOKIE_PATH != "/"):
        problems.append(Error(
            "COOKIE_HOST_PREFIX is on with a COOKIE_DOMAIN or a COOKIE_PATH other than '/'.",
            hint="Browsers accept a __Host- cookie only without Domain and on Path=/; unset those two.",
            id="magiclink_auth.E020",
        ))
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if MIDDLEWARE_PATH in middleware and (auth not in middleware
                                          or middleware.index(auth) > middleware.index(MIDDLEWARE_PATH)):
        problems.append(Error(
            f"{MIDDLEWARE_PATH} must come after {auth}.",
            hint="Otherwise Django's middleware overwrites the request.user it sets.",
            id="magiclink_auth.E021",
        ))
    for name in ("CONFIRM_REPLAY_WINDOW", "PENDING_POLL_INTERVAL"):
        if getattr(app_settings, name).total_seconds() < (0 if name == "CONFIRM_REPLAY_WINDOW" else 0.5):
            problems.append(Error(f"{name} is too short.", id="magiclink_auth.E022"))
    if app_settings.CONFIRM_REPLAY_WINDOW.total_seconds() > 300:
        problems.append(Warning(
            "CONFIRM_REPLAY_WINDOW is longer than 5 minutes: a used link keeps working that long in the "
            "browser that confirmed it.",
            id="magiclink_auth.W020",
        ))
    if MIDDLEWARE_PATH in middleware and BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS:
        problems.append(Warning(
            f"{BACKEND_PATH} is not in AUTHENTICATION_BACKENDS.",
            hint="The landing page's Django login would not survive the next request.",
            id="magiclink_auth.W021",
        ))
    return problems


RATE_SETTINGS = (
    "START_RATE_PER_IP", "START_RATE_PER_LOGIN_ID", "VERIFY_RATE_PER_IP", "REFRESH_RATE_PER_SESSION",
    "SMS_RATE_PER_PREFIX", "SMS_RATE_SITEWIDE",
)
# Caches whose counters are per process (each worker counts alone) or not kept at all.
WEAK_CACHES = {"django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache"}


def _rate_is_valid(rate) -> bool:
    if rate is None:
        return True
    try:
        num, period = str(rate).split("/")
        return int(num) > 0 and period[:1] in {"s", "m", "h", "d"}
    except ValueError:
        return False


@register(Tags.security, deploy=False)
def check_abuse_limits(app_configs=None, **kwargs):
    problems = []
    codes = app_settings.SMS_ALLOWED_COUNTRY_CODES
    if not codes:
        problems.append(Warning(
            "SMS_ALLOWED_COUNTRY_CODES is empty: every SMS start call is refused (E062707).",
            hint="List the country calling codes your users have, e.g. [1, 44]; keep it short (SMS pumping).",
            id="magiclink_auth.W030",
        ))
    for code in codes:
        digits = str(code).lstrip("+")
        if not digits.isdigit() or region_code_for_country_code(int(digits)) == "ZZ":
            problems.append(Error(f"SMS_ALLOWED_COUNTRY_CODES holds {code!r}, not a country calling code.",
                                  id="magiclink_auth.E030"))
    for name in RATE_SETTINGS:
        if not _rate_is_valid(getattr(app_settings, name)):
            problems.append(Error(
                f"{name} is {getattr(app_settings, name)!r}, not a rate such as '10/hour' or None.",
                id="magiclink_auth.E031",
            ))
    for name, lowest in (("VERIFY_ATTEMPTS_PER_TOKEN", 0), ("NUM_PROXIES", 0), ("SMS_PREFIX_DIGITS", 1)):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            problems.append(Error(f"{name} is {value!r}, not a whole number >= {lowest}.",
                                  id="magiclink_auth.E033"))
    alias = app_settings.THROTTLE_CACHE
    backend = settings.CACHES[alias].get("BACKEND") if alias in settings.CACHES else None
    if backend is None:
        problems.append(Error(f"THROTTLE_CACHE names {alias!r}, which is not in CACHES.",
                              id="magiclink_auth.E032"))
    elif backend in WEAK_CACHES and not settings.DEBUG:
        problems.append(Warning(
            f"THROTTLE_CACHE {alias!r} uses {backend.rsplit('.', 1)[-1]}: rate limits are counted per "
            "process or not at all.",
            hint="Use a shared cache (Redis, Memcached or the database cache) for THROTTLE_CACHE.",
            id="magiclink_auth.W031",
        ))
    return problems
