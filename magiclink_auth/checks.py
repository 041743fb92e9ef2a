"""System checks (``manage.py check``): configuration mistakes reported before the first request.

Errors are ``magiclink_auth.E0xx``, warnings ``magiclink_auth.W0xx``; README lists them all.
"""

from __future__ import annotations

import difflib
from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from phonenumbers import region_code_for_country_code

from .conf import DEFAULTS, app_settings
from .errors import MissingExtra
from .existing_users import shared_addresses
from .models import Method
from .redirects import _parse, is_allowed
from .tokens import MAX_LIFETIME, MIN_LIFETIME

__all__ = [
    "check_settings", "check_unknown_settings", "check_signing_key_algorithm", "check_delivery",
    "check_deployment", "check_operations",
    "check_browser_login", "check_shared_addresses", "check_staff_links", "check_mail", "check_mail_deployment",
    "check_concurrency",
    "METHODS",
]

# The methods the API serves: each needs a delivery backend.
METHODS = tuple(Method)
TWILIO_BACKEND = "magiclink_auth.delivery.sms.TwilioBackend"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register()
def check_unknown_settings(app_configs=None, **kwargs):
    """A misspelt key would be ignored and its default used in silence: ``ENUMERATION_SAFE`` spelt
    ``ENUMERATON_SAFE`` leaves it on, ``LINK_LIFETIME`` spelt ``LINK_LIFE_TIME`` keeps links 10 minutes."""
    problems = []
    for key in sorted(set(app_settings.user_settings) - set(DEFAULTS), key=str):
        close = difflib.get_close_matches(str(key), DEFAULTS, n=1)
        problems.append(Error(
            f"MAGICLINK_AUTH has an unknown key {key!r}; it is ignored.",
            hint=f"Did you mean {close[0]!r}?" if close else "README lists the settings.",
            id="magiclink_auth.E050",
        ))
    return problems


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
        plain_http_allowed = settings.DEBUG or (parts is not None and parts.hostname in LOCAL_HOSTS)
        if parts is None or (parts.scheme != "https" and not plain_http_allowed):
            problems.append(Error(
                f"Redirect allow-list entry {entry!r} is not an absolute https URL.",
                id="magiclink_auth.E003",
            ))
    if app_settings.SESSION_LIFETIME > app_settings.REFRESH_LIFETIME:
        problems.append(Error(
            "SESSION_LIFETIME is longer than REFRESH_LIFETIME.",
            hint="A session JWT must not outlive the refresh JWT that renews it.",
            id="magiclink_auth.E007",
        ))
    if not MIN_LIFETIME <= app_settings.LINK_LIFETIME <= MAX_LIFETIME:
        problems.append(Error(
            f"LINK_LIFETIME is {app_settings.LINK_LIFETIME}; it must be between 1 minute and 7 days.",
            id="magiclink_auth.E008",
        ))
    default = app_settings.DEFAULT_REDIRECT_URL
    if default and app_settings.REDIRECT_URLS and not is_allowed(default):
        problems.append(Error(
            f"DEFAULT_REDIRECT_URL {default!r} is not inside REDIRECT_URLS: links without a URI would fail.",
            id="magiclink_auth.E009",
        ))
    if app_settings.COOKIE_SECURE is False and not settings.DEBUG:
        problems.append(Warning(
            "COOKIE_SECURE is False outside DEBUG: session cookies would travel over plain HTTP.",
            id="magiclink_auth.W004",
        ))
    problems.extend(_check_signing_keys())
    return problems + check_browser_login()


def _check_signing_keys():
    from .keys import ALGORITHMS, MIN_RSA_KEY_SIZE, algorithm_of, load_pem

    wanted = app_settings.SIGNING_ALGORITHM
    if wanted not in ALGORITHMS or (wanted == "RS256" and app_settings.RSA_KEY_SIZE < MIN_RSA_KEY_SIZE):
        yield Error(
            f"SIGNING_ALGORITHM {wanted!r} with RSA_KEY_SIZE {app_settings.RSA_KEY_SIZE} cannot make keys.",
            hint=f"Use one of {', '.join(ALGORITHMS)}; RSA keys of at least {MIN_RSA_KEY_SIZE} bits.",
            id="magiclink_auth.E040",
        )
    for index, pem in enumerate(app_settings.SIGNING_KEYS):
        try:
            algorithm = algorithm_of(load_pem(pem))
        except (TypeError, ValueError, AttributeError):
            yield Error(
                f"SIGNING_KEYS[{index}] is not an unencrypted PEM private key.", id="magiclink_auth.E010",
            )
            continue
        if algorithm is None:
            yield Error(
                f"SIGNING_KEYS[{index}] is a kind of key that cannot sign here.",
                hint=f"Use RSA ({MIN_RSA_KEY_SIZE} bits or more), EC P-256 (ES256) or Ed25519 (EdDSA).",
                id="magiclink_auth.E041",
            )
        elif index == 0 and algorithm != wanted:
            yield Error(
                f"SIGNING_KEYS[0], the key that signs, is an {algorithm} key but SIGNING_ALGORITHM is {wanted!r}.",
                hint="Put a key of SIGNING_ALGORITHM first (older keys may follow it, of any algorithm), "
                     "or set SIGNING_ALGORITHM to the first key's.",
                id="magiclink_auth.E042",
            )


@register(Tags.database)
def check_signing_key_algorithm(app_configs=None, databases=None, **kwargs):
    """The database's signing key was made for another SIGNING_ALGORITHM: it keeps signing until rotated."""
    if app_settings.SIGNING_KEYS or not databases:
        return []
    from django.db import DatabaseError

    from .models import SigningKey

    try:
        active = SigningKey.objects.filter(retired_at=None).values_list("algorithm", flat=True).first()
    except DatabaseError:
        return []  # not migrated yet
    if active is None or active == app_settings.SIGNING_ALGORITHM:
        return []
    return [Warning(
        f"The active signing key is {active}; SIGNING_ALGORITHM is {app_settings.SIGNING_ALGORITHM!r}.",
        hint="Run `manage.py magiclink_keys rotate` to sign with a new key of SIGNING_ALGORITHM; the old key "
             "keeps verifying what it signed.",
        id="magiclink_auth.W040",
    )]


@register()
def check_delivery(app_configs=None, **kwargs):
    problems = []
    delivery = app_settings.DELIVERY
    if not isinstance(delivery, dict):
        return [Error("MAGICLINK_AUTH['DELIVERY'] must be a dict of method -> {BACKEND, OPTIONS}.",
                      id="magiclink_auth.E004")]
    for method in METHODS:
        config = delivery.get(method)
        backend = config.get("BACKEND") if isinstance(config, dict) else None
        if not backend:
            problems.append(Error(
                f"No delivery backend for {method!r}: "
                f"MAGICLINK_AUTH['DELIVERY'][{method!r}]['BACKEND'] is unset.",
                hint="Use magiclink_auth.delivery.dev.ConsoleBackend while developing.",
                id="magiclink_auth.E004",
            ))
            continue
        try:
            backend_class = import_string(backend)
        except MissingExtra as exc:
            problems.append(Error(f"Delivery backend {backend!r} for {method!r}: {exc}",
                                  hint=f"pip install 'magiclink-auth[{exc.extra}]'", id="magiclink_auth.E051"))
            continue
        except ImportError:
            problems.append(Error(f"Delivery backend {backend!r} for {method!r} cannot be imported.",
                                  id="magiclink_auth.E005"))
            continue
        if _is_twilio(backend_class):
            problems.extend(_check_twilio(method, config.get("OPTIONS") or {}))
    return problems


def _is_twilio(backend_class) -> bool:
    try:
        return issubclass(backend_class, import_string(TWILIO_BACKEND))
    except (ImportError, TypeError):
        return False


def _check_twilio(method: str, options: dict):
    missing = [name for name in ("ACCOUNT_SID", "AUTH_TOKEN") if not options.get(name)]
    if not (options.get("FROM_NUMBER") or options.get("MESSAGING_SERVICE_SID")):
        missing.append("FROM_NUMBER or MESSAGING_SERVICE_SID")
    if missing:
        yield Error(
            f"Twilio delivery for {method!r} is enabled without credentials: {', '.join(missing)} missing.",
            hint="Set them in MAGICLINK_AUTH['DELIVERY'][...]['OPTIONS'] (the example site reads TWILIO_*).",
            id="magiclink_auth.E006",
        )


@register(Tags.security, deploy=True)
def check_deployment(app_configs=None, **kwargs):
    """``manage.py check --deploy`` only: what depends on how the site is served."""
    if app_settings.COOKIE_SECURE is None and not settings.DEBUG and not settings.SECURE_PROXY_SSL_HEADER:
        return [Warning(
            "COOKIE_SECURE is None (Secure only on HTTPS requests) and SECURE_PROXY_SSL_HEADER is unset: "
            "behind a proxy that terminates TLS, the session cookies would be sent without Secure.",
            hint="Set MAGICLINK_AUTH['COOKIE_SECURE'] = True, or SECURE_PROXY_SSL_HEADER.",
            id="magiclink_auth.W005",
        )]
    return []


@register()
def check_operations(app_configs=None, **kwargs):
    problems = []
    retention = app_settings.AUDIT_RETENTION
    if retention is not None and (not isinstance(retention, timedelta) or retention <= timedelta(0)):
        problems.append(Error("AUDIT_RETENTION must be a positive duration, or None to keep events forever.",
                              id="magiclink_auth.E011"))
    batch = app_settings.CLEANUP_BATCH_SIZE
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        problems.append(Error("CLEANUP_BATCH_SIZE must be a positive integer.", id="magiclink_auth.E012"))
    elif batch > 50_000:
        problems.append(Warning(
            f"CLEANUP_BATCH_SIZE is {batch}: batches this large hold locks long under traffic.",
            id="magiclink_auth.W012",
        ))
    if not app_settings.AUDIT_LOG and not settings.DEBUG:
        problems.append(Warning("AUDIT_LOG is off: auth events are not recorded.", id="magiclink_auth.W011"))
    return problems


@register(Tags.database)
def check_shared_addresses(app_configs=None, databases=None, **kwargs):
    """Run by ``migrate`` and ``check --database default``: addresses no existing user can sign in with."""
    if not databases or not app_settings.LINK_EXISTING_USERS:
        return []
    try:
        count = shared_addresses()
    except DatabaseError:
        return []  # not migrated yet: migrate runs this check again afterwards
    if not count:
        return []
    return [Warning(
        f"{count} email address(es) are each on two or more users, none of whom has it as a login ID: "
        "a sign-in with one of them is refused (E062112).",
        hint="Give each user their own address, or a login ID (admin, login IDs); "
             "`manage.py magiclink_link_users` lists them.",
        id="magiclink_auth.W112",
    )]


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
    for name, shortest in (("CONFIRM_REPLAY_WINDOW", 0), ("PENDING_POLL_INTERVAL", 0.5)):
        if getattr(app_settings, name).total_seconds() < shortest:
            problems.append(Error(f"{name} is too short.", id="magiclink_auth.E022"))
    if app_settings.CONFIRM_REPLAY_WINDOW.total_seconds() > 300:
        problems.append(Warning(
            "CONFIRM_REPLAY_WINDOW is longer than 5 minutes: a used link keeps working that long in the "
            "browser that confirmed it.",
            id="magiclink_auth.W020",
        ))
    if BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS and _pages_routed():
        problems.append(Error(
            f"The sign-in pages are routed but {BACKEND_PATH} is not in AUTHENTICATION_BACKENDS.",
            hint="Add it: the link's page logs the person in, and Django drops that login at the next "
                 "request (the account page then bounces back to sign-in) when the backend is not listed.",
            id="magiclink_auth.E113",
        ))
    if MIDDLEWARE_PATH in middleware and BACKEND_PATH not in settings.AUTHENTICATION_BACKENDS:
        problems.append(Warning(
            f"{BACKEND_PATH} is not in AUTHENTICATION_BACKENDS.",
            hint="The landing page's Django login would not survive the next request.",
            id="magiclink_auth.W021",
        ))
    digits, attempts = app_settings.NUMBER_MATCH_DIGITS, app_settings.NUMBER_MATCH_ATTEMPTS
    if not (isinstance(digits, int) and 2 <= digits <= 8 and isinstance(attempts, int) and 1 <= attempts <= 10):
        problems.append(Error(
            "NUMBER_MATCH_DIGITS must be 2 to 8 and NUMBER_MATCH_ATTEMPTS 1 to 10.",
            hint="Fewer digits or more tries let a person who types at random match a stranger's number.",
            id="magiclink_auth.E023",
        ))
    return problems


def _sms_reaches_people() -> bool:
    """Whether the SMS backend sends real texts (a development backend only prints or files them)."""
    try:
        backend = import_string(app_settings.DELIVERY["sms"]["BACKEND"])
    except (ImportError, KeyError, TypeError):
        return True  # reported by check_delivery
    return getattr(backend, "reaches_people", True)


def _pages_routed() -> bool:
    try:
        reverse("magiclink_auth_web:landing")
    except NoReverseMatch:
        return False
    return True


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DJANGO_MAIL_DELIVERY = "magiclink_auth.delivery.email.EmailBackend"


def _site_mailer() -> tuple[str, str]:
    """The site's mail backend and SMTP host: ``MAILERS["default"]`` from Django 6.1, else EMAIL_*."""
    mailers = getattr(settings, "MAILERS", None)
    if mailers:
        default = mailers.get("default") or {}
        return default.get("BACKEND", ""), (default.get("OPTIONS") or {}).get("host", "localhost")
    return settings.EMAIL_BACKEND, settings.EMAIL_HOST


def _smtp_to_localhost() -> bool:
    """Links go out through Django's SMTP backend to its default host: usually no mail server at all, and
    then every start call answers 200 while its link goes nowhere."""
    config = app_settings.DELIVERY.get("email") if isinstance(app_settings.DELIVERY, dict) else None
    if not isinstance(config, dict) or (config.get("OPTIONS") or {}).get("CONNECTION"):
        return False
    try:
        uses_django_mail = issubclass(import_string(config.get("BACKEND", "")), import_string(DJANGO_MAIL_DELIVERY))
    except (ImportError, TypeError):
        return False
    backend, host = _site_mailer()
    return uses_django_mail and backend == SMTP_BACKEND and host in {"localhost", "127.0.0.1", "::1"}


SMTP_MESSAGE = ("Links are emailed through Django's SMTP backend to EMAIL_HOST 'localhost', Django's default: "
                "without a mail server there, start calls answer 200 and no link arrives.")
SMTP_HINT = ("Set EMAIL_BACKEND to your provider (an anymail backend) or EMAIL_HOST to your SMTP server; "
             "while developing, use django.core.mail.backends.console.EmailBackend.")


@register(Tags.compatibility)
def check_mail(app_configs=None, **kwargs):
    if not _smtp_to_localhost():
        return []
    return [Warning(SMTP_MESSAGE, hint=SMTP_HINT, id="magiclink_auth.W114")]


@register(Tags.compatibility, deploy=True)
def check_mail_deployment(app_configs=None, **kwargs):
    """``check --deploy``: the same as an error, since a production site must send its links."""
    if not _smtp_to_localhost():
        return []
    return [Error(SMTP_MESSAGE, hint=SMTP_HINT, id="magiclink_auth.E114")]


@register(Tags.security)
def check_staff_links(app_configs=None, **kwargs):
    if not app_settings.STAFF_LINK_LOGIN:
        return []
    return [Warning(
        "STAFF_LINK_LOGIN is on: whoever can read a staff member's email can sign in to the admin with a "
        "link, without the password (and without any second factor the password login has).",
        hint="Keep it on only where staff mailboxes are as well guarded as admin passwords; the trade-off "
             "is no admin passwords to phish, reuse or reset. Silence it with SILENCED_SYSTEM_CHECKS.",
        id="magiclink_auth.W115",
    )]


RATE_SETTINGS = (
    "START_RATE_PER_IP", "START_RATE_PER_LOGIN_ID", "VERIFY_RATE_PER_IP", "REFRESH_RATE_PER_SESSION",
    "SMS_RATE_PER_PREFIX", "SMS_RATE_SITEWIDE", "UPDATE_RATE_PER_SESSION", "UPDATE_RATE_PER_IP",
)
# Caches whose counters are per process (each worker counts alone), not kept at all, or not atomic (the
# database and file caches' incr is a read and a write: simultaneous requests pass together).
WEAK_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache", "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.db.DatabaseCache", "django.core.cache.backends.filebased.FileBasedCache",
}


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
    if not codes and _sms_reaches_people():
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
    problems.extend(_check_shared_cache(
        "THROTTLE_CACHE", "rate limits are counted per process, not at all, or not atomically", ("E032", "W031"),
        "a shared cache with atomic increments (Redis or Memcached)"))
    if app_settings.CLAIMS_CACHE is not None:
        problems.extend(_check_shared_cache(
            "CLAIMS_CACHE", "a group change made in one process can go unseen by the others for up to "
            "CLAIMS_CACHE_TIMEOUT", ("E043", "W041"), "a shared cache (Redis or Memcached)"))
    return problems


def _check_shared_cache(name: str, consequence: str, ids: tuple[str, str], wanted: str):
    alias = getattr(app_settings, name)
    backend = settings.CACHES[alias].get("BACKEND") if alias in settings.CACHES else None
    if backend is None:
        yield Error(f"{name} names {alias!r}, which is not in CACHES.", id=f"magiclink_auth.{ids[0]}")
    elif backend in WEAK_CACHES and not settings.DEBUG:
        yield Warning(
            f"{name} {alias!r} uses {backend.rsplit('.', 1)[-1]}: {consequence}.",
            hint=f"Use {wanted} for {name}.",
            id=f"magiclink_auth.{ids[1]}",
        )


SQLITE_ENGINE = "django.db.backends.sqlite3"
ERROR_MIDDLEWARE_PATH = "magiclink_auth.api.middleware.APIErrorMiddleware"


def _sqlite_gaps(options: dict) -> list[str]:
    init_command = str(options.get("init_command", "")).lower().replace(" ", "")
    gaps = []
    if str(options.get("transaction_mode") or "").upper() != "IMMEDIATE":
        gaps.append("'transaction_mode': 'IMMEDIATE'")
    if "journal_mode=wal" not in init_command:
        gaps.append("'PRAGMA journal_mode=WAL' in 'init_command'")
    if "timeout" not in options and "busy_timeout" not in init_command:
        gaps.append("a busy timeout ('timeout': 20)")
    return gaps


@register()
def check_concurrency(app_configs=None, **kwargs):
    """What simultaneous requests and faults need: SQLite set up for concurrent use, the API's error guard."""
    from django.db import router

    from .models import PendingLink

    problems = []
    alias = router.db_for_write(PendingLink)
    database = settings.DATABASES.get(alias, {})
    if database.get("ENGINE") == SQLITE_ENGINE and (gaps := _sqlite_gaps(database.get("OPTIONS") or {})):
        problems.append(Warning(
            f"DATABASES[{alias!r}] is SQLite without {', '.join(gaps)}: simultaneous requests fail with "
            "'database is locked'.",
            hint="Add the OPTIONS of README's 'SQLite' section.",
            id="magiclink_auth.W120",
        ))
    if ERROR_MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        problems.append(Warning(
            f"{ERROR_MIDDLEWARE_PATH} is not in MIDDLEWARE.",
            hint="Put it first: failures in other middleware would answer the API's callers with HTML.",
            id="magiclink_auth.W121",
        ))
    return problems
