"""The app's settings: the ``MAGICLINK_AUTH`` dict merged over ``DEFAULTS``.

Read them as attributes of ``app_settings`` (``app_settings.PROJECT_ID``). The object re-reads Django's
settings when they change (``override_settings`` in tests), and clears what was derived from them.
Values are validated by system checks (``checks.py``), never at import.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict[str, Any] = {
    # Identity of this "project": the id the SDKs send as `Authorization: Bearer <PROJECT_ID>`,
    # and the `iss` of every JWT issued.
    "PROJECT_ID": "",
    # Links: where they may point, and how long they live.
    "REDIRECT_URLS": [],
    "DEFAULT_REDIRECT_URL": "",
    "LINK_LIFETIME": timedelta(minutes=10),
    # Sessions.
    "SESSION_LIFETIME": timedelta(minutes=10),
    "REFRESH_LIFETIME": timedelta(weeks=4),
    # A rotated-out refresh JWT presented again within this window is a benign double refresh
    # (two tabs refreshing at once), not a theft; after it the whole session family is revoked.
    "REFRESH_REUSE_GRACE": timedelta(seconds=10),
    # Signing keys: a list of PEM private keys (first signs, all verify). Empty: keys are kept in the
    # database and one is generated on first use.
    "SIGNING_KEYS": [],
    # Algorithm of generated keys: "ES256" (EC P-256), "EdDSA" (Ed25519) or "RS256" (RSA, RSA_KEY_SIZE bits).
    # Keys already made keep their own algorithm: set this and rotate to move (`magiclink_keys rotate`).
    "SIGNING_ALGORITHM": "ES256",
    "RSA_KEY_SIZE": 2048,
    # Each process reloads its signing keys at least this often: a key deleted (not retired) is refused
    # everywhere within it, and a rotated-in key signs everywhere within it.
    "KEY_REFRESH_INTERVAL": timedelta(seconds=60),
    # The roles and permissions claims are cached per user in this cache alias until the user's groups or
    # permissions change (shared between processes, like THROTTLE_CACHE); None: a query per verify.
    "CLAIMS_CACHE": "default",
    # The longest a cached answer is kept (a change no signal reports shows within it).
    "CLAIMS_CACHE_TIMEOUT": timedelta(minutes=10),
    # Operations: the audit log (on by default; events older than AUDIT_RETENTION are deleted by
    # `manage.py magiclink_cleanup`), and the rows that command deletes per statement.
    "AUDIT_LOG": True,
    "AUDIT_RETENTION": timedelta(days=90),
    "CLEANUP_BATCH_SIZE": 1000,
    # Delivery backends per method, in the shape of CACHES.
    "DELIVERY": {
        "email": {"BACKEND": "magiclink_auth.delivery.email.EmailBackend", "OPTIONS": {}},
        "sms": {"BACKEND": "magiclink_auth.delivery.dev.ConsoleBackend", "OPTIONS": {}},
    },
    # Queue name on the tasks framework's default backend used for delivery.
    "DELIVERY_QUEUE": "default",
    # Delivery: retries of a link the provider did not take (a retryable DeliveryError). The n-th retry
    # waits DELIVERY_RETRY_BACKOFF * 2**(n-1), at most DELIVERY_RETRY_MAX_BACKOFF, plus up to 20% jitter;
    # after DELIVERY_MAX_ATTEMPTS attempts, or once the link expired, delivery gives up. An attempt claims
    # the link for DELIVERY_CLAIM_TIMEOUT, after which a crashed attempt is retried.
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_RETRY_BACKOFF": timedelta(seconds=15),
    "DELIVERY_RETRY_MAX_BACKOFF": timedelta(minutes=5),
    "DELIVERY_CLAIM_TIMEOUT": timedelta(minutes=2),
    # Cookies carrying the session (DS) and refresh (DSR) JWTs.
    "SESSION_COOKIE_NAME": "DS",
    "REFRESH_COOKIE_NAME": "DSR",
    "COOKIE_DOMAIN": None,
    "COOKIE_PATH": "/",
    "COOKIE_SAMESITE": "Strict",
    # None: Secure when the request came over HTTPS.
    "COOKIE_SECURE": None,
    # Browser login: the landing page, the middleware and cross-device completion.
    # True: cookies are named `__Host-DS` etc., which browsers accept only Secure, on Path=/, without Domain.
    "COOKIE_HOST_PREFIX": False,
    # A random id per browser (HttpOnly): binds a link to the browser that asked for it, recognises a double click.
    "BROWSER_COOKIE_NAME": "mlb",
    # True: links to the app's landing page carry the token in the fragment (`#t=`), which no GET sends.
    "TOKEN_IN_FRAGMENT": False,
    # A second confirm of a used link from the browser that confirmed it, within this window, gets the same session.
    "CONFIRM_REPLAY_WINDOW": timedelta(seconds=60),
    # How often the tab that asked for a link polls for the cross-device hand-over.
    "PENDING_POLL_INTERVAL": timedelta(seconds=2),
    # Number matching (docs/security.md): the digits of the number shown to whoever asked for a link that
    # acts for another device or session, and the wrong numbers that void the link.
    "NUMBER_MATCH_DIGITS": 3,
    "NUMBER_MATCH_ATTEMPTS": 3,
    # The sign-in pages send enchanted links: the "check your inbox" page shows a number, and the message
    # carries several numbered links, of which only the one with that number signs the page in.
    "PAGES_ENCHANTED_LINK": False,
    # Requests: bodies larger than this are refused before parsing.
    "MAX_BODY_BYTES": 16 * 1024,
    # Abuse limits (docs/hardening.md). Rates are DRF rate strings ("10/hour"); None switches one off.
    # Counters live in this cache alias (Redis in production: a per-process cache limits nothing).
    "THROTTLE_CACHE": "default",
    # Proxies in front of the site appending to X-Forwarded-For (DRF's NUM_PROXIES); 0: REMOTE_ADDR only.
    "NUM_PROXIES": 0,
    "START_RATE_PER_IP": "30/hour",
    # Per login ID (normalised, so A@B.COM and a@b.com share one count): only messages actually sent count.
    "RESEND_COOLDOWN": timedelta(seconds=60),
    "START_RATE_PER_LOGIN_ID": "10/hour",
    # Lockout defence: requests from a client IP or browser that verified a link of the login ID within
    # this time are the owner's, with their own cap and cooldown, and strangers cannot void their links.
    "KNOWN_REQUESTER_LIFETIME": timedelta(days=30),
    "VERIFY_RATE_PER_IP": "60/hour",
    # Verify calls per token; after that even the right token is refused.
    "VERIFY_ATTEMPTS_PER_TOKEN": 5,
    "REFRESH_RATE_PER_SESSION": "120/hour",
    # update/email and update/phone calls (each may send a message to an address of the caller's choosing).
    "UPDATE_RATE_PER_SESSION": "5/hour",
    "UPDATE_RATE_PER_IP": "20/hour",
    # SMS pumping: country calling codes SMS may go to (none until configured), a cap per destination
    # prefix (the first SMS_PREFIX_DIGITS digits of the E.164 number), and a site-wide budget.
    "SMS_ALLOWED_COUNTRY_CODES": [],
    "SMS_PREFIX_DIGITS": 7,
    "SMS_RATE_PER_PREFIX": "10/hour",
    "SMS_RATE_SITEWIDE": "100/hour",
    # When true, sign-in of an unknown login ID and sign-up of a known one answer like success and the
    # address is told what happened; when false they answer E062108 / E062107.
    "ENUMERATION_SAFE": True,
    # A start call for an address no login ID holds signs in the one existing user whose email (or phone)
    # field holds it (existing_users.py). False once `manage.py magiclink_link_users --apply` was run.
    "LINK_EXISTING_USERS": True,
    # The Django admin's login page also offers "email me a sign-in link", sent to staff users only.
    "STAFF_LINK_LOGIN": False,
    # Dotted path of the adapter class holding the site's policy decisions.
    "ADAPTER": "magiclink_auth.adapter.DefaultAdapter",
    # Account changes (update email / phone, step-up, MFA, claims).
    # Dotted path of a callable(user) -> dict giving the `tenants` claim ({tenantId: {"roles": [...]}});
    # None: no tenants.
    "TENANTS_PROVIDER": None,
    # Tell the old address when an email or phone update is verified.
    "NOTIFY_OLD_ADDRESS": True,
}

# Settings holding a dotted path to import, and settings holding a lifetime (timedelta or seconds).
IMPORT_STRINGS = {"ADAPTER", "TENANTS_PROVIDER"}
DURATIONS = {
    "LINK_LIFETIME", "SESSION_LIFETIME", "REFRESH_LIFETIME", "REFRESH_REUSE_GRACE", "CONFIRM_REPLAY_WINDOW",
    "PENDING_POLL_INTERVAL", "RESEND_COOLDOWN", "DELIVERY_RETRY_BACKOFF", "DELIVERY_RETRY_MAX_BACKOFF",
    "DELIVERY_CLAIM_TIMEOUT", "KNOWN_REQUESTER_LIFETIME", "KEY_REFRESH_INTERVAL", "CLAIMS_CACHE_TIMEOUT",
    "AUDIT_RETENTION",
}


class AppSettings:
    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "MAGICLINK_AUTH", {})

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid magiclink_auth setting: {name!r}")
        if name in self._cache:
            return self._cache[name]
        value = self.user_settings.get(name, DEFAULTS[name])
        if name in DURATIONS and isinstance(value, int | float):
            value = timedelta(seconds=value)
        if name in IMPORT_STRINGS and isinstance(value, str):
            value = import_string(value)
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


app_settings = AppSettings()

# Callbacks that clear caches derived from the settings (keys, backend instances).
_reload_hooks: list = []


def on_reload(func):
    _reload_hooks.append(func)
    return func


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in {"MAGICLINK_AUTH", "SECRET_KEY", "DEBUG"}:
        app_settings.reload()
        for hook in _reload_hooks:
            hook()
